// The reference codec and a seeded generator for the differential tests of the fast paths
// (src/shared/protocol/*-fast.ts): a fresh mqtt-packet parser per packet, its result or error.
import mqttPacket from 'mqtt-packet';

/** mqtt-packet's reading of one whole packet: the packet, or the error (also for bytes left over). */
export function referenceParse(bytes: Buffer, version: 3 | 4 | 5): mqttPacket.Packet | Error {
  const p = mqttPacket.parser({ protocolVersion: version });
  let out: mqttPacket.Packet | Error = new Error('incomplete');
  p.on('packet', (pkt: mqttPacket.Packet) => { out = pkt; });
  p.on('error', (e: Error) => { out = e; });
  const left = p.parse(bytes);
  return left === 0 ? out : new Error(`left ${left}`);
}

/** A small deterministic generator (same seed, same sequence): failures reproduce. */
export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x >>> 8; };
}

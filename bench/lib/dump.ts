// --dump: print every packet a client sends or receives, decoded by mqtt-packet, on stderr
// (stdout stays clean for --json). Slow on purpose-free paths only: used for debugging.
import * as mqttPacket from 'mqtt-packet';
import type { ProtocolLevel } from './packets.ts';

export class Dumper {
  private readonly inbound: mqttPacket.Parser;
  private readonly outbound: mqttPacket.Parser;

  constructor(label: string, level: ProtocolLevel) {
    this.inbound = mqttPacket.parser({ protocolVersion: level });
    this.outbound = mqttPacket.parser({ protocolVersion: level });
    this.inbound.on('packet', (p: mqttPacket.Packet) => print(label, '<', p));
    this.outbound.on('packet', (p: mqttPacket.Packet) => print(label, '>', p));
    this.inbound.on('error', (e: Error) => process.stderr.write(`${label} < undecodable: ${e.message}\n`));
    this.outbound.on('error', (e: Error) => process.stderr.write(`${label} > undecodable: ${e.message}\n`));
  }

  received(buf: Buffer, off: number, len: number): void {
    this.inbound.parse(Buffer.from(buf.subarray(off, off + len)));
  }

  sent(buf: Buffer): void {
    this.outbound.parse(Buffer.from(buf));
  }
}

function print(label: string, dir: string, p: mqttPacket.Packet): void {
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    shown[k] = Buffer.isBuffer(v) ? `<${v.length} bytes ${v.subarray(0, 24).toString('hex')}>` : v;
  }
  process.stderr.write(`${label} ${dir} ${JSON.stringify(shown)}\n`);
}

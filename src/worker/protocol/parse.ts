// Whole-packet decoding with mqtt-packet, the reference codec, for every packet that has no
// hand-written fast path (connect-fast.ts, publish-codec.ts, ack-fast.ts).
import mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';

// One mqtt-packet parser per protocol version for the whole thread, not one per connection (an
// idle connection then holds none): the framer hands over whole packets, so every parse
// completes synchronously and leaves the parser empty. A parser that decodes a CONNECT takes
// that CONNECT as its settings (its protocol version included), so each parse first puts back
// the settings of its version: a v5 CONNECT, decoded by the version-4 parser every new
// connection starts with, must not make that parser read later 3.1.1 packets as v5 ones.
const parsers: (ReturnType<typeof mqttPacket.parser> | null)[] = [null, null, null, null, null, null];
const parserSettings = [3, 4, 5].reduce<{ protocolVersion: number }[]>((a, v) => { a[v] = { protocolVersion: v }; return a; }, []);
let parsed: mqttPacket.Packet | null = null;
let parseError: Error | null = null;

export function parseWhole(version: number, buf: Buffer, off: number, len: number): mqttPacket.Packet {
  let p = parsers[version];
  if (p === null || p === undefined) {
    p = mqttPacket.parser({ protocolVersion: version as 3 | 4 | 5 });
    p.on('packet', (pkt: mqttPacket.Packet) => { parsed = pkt; });
    p.on('error', (err: Error) => { parseError = err; });
    parsers[version] = p;
  }
  (p as unknown as { settings: object }).settings = parserSettings[version]!;
  parsed = null;
  parseError = null;
  const left = p.parse(off === 0 && len === buf.length ? buf : buf.subarray(off, off + len));
  const pkt = parsed as mqttPacket.Packet | null;
  const err = parseError as Error | null;
  parsed = null;
  if (err !== null || pkt === null || left !== 0) {
    parsers[version] = null; // its internal state is undefined after an error
    // What the reference codec cannot decode is a Malformed Packet (v5 DISCONNECT 0x81) [MQTT-4.13.1-1].
    throw new ProtocolError(Reason.MALFORMED_PACKET, `malformed packet: ${(err ?? new Error('incomplete packet')).message}`);
  }
  return pkt;
}

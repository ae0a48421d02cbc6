// Binary records for what the store keeps on disk. Messages sit on the hot path (every
// QoS 1/2 message to an offline or slow session is written once and read once), so they get
// a fixed header and length-prefixed fields: one exact-size allocation to encode, no
// copies to decode (the decoded Buffers are views into the record, which LMDB hands out
// as a fresh copy per read). All integers are little-endian.
//
// Message and outbound record (kind 1 / 2):
//   0  u8   CODEC_VERSION
//   1  u8   kind
//   2  u8   flags: bits 0-1 qos, bit 2 retain, bit 3 has properties
//   3  u8   outbound state (0 queued, 1 sent, 2 pubrel); 0 for a plain message
//   4  u16  packet id (outbound), 0 otherwise
//   6  u16  reserved, 0
//   8  f64  expiresAt
//  16  u32 topic length, topic (UTF-8); [u32 length, properties]; u32 length, payload
//
// Session record (kind 3):
//   0  u8 CODEC_VERSION, 1 u8 kind, 2 u8 protocolVersion, 3 u8 flags (bit 0: has will,
//      bit 1: user name recorded, bit 2: with a user name; records written before the user
//      name was kept have neither bit and still read, as "identity unknown")
//   4  u32 expiryInterval
//   8  f64 disconnectedAt
//  16  u16 nextPacketId, 18 u16 reserved
//  20  u32 length, clientId; u32 subscription count, then per subscription:
//        u32 length, filter; u8 options (bits 0-1 qos, 2 noLocal, 3 retainAsPublished,
//        4-5 retainHandling); u32 subscriptionId
//      will, if present: u8 flags (as a message), f64 delayMs, u32 length, topic;
//        [u32 length, properties]; u32 length, payload
//      user name, if bit 2: u32 length, user name
import type { OutboundEntry, OutboundState, StoredMessage, StoredSession, StoredSubscription, StoredWill } from './types.ts';
import { StoreError, StoreErrorCode } from './errors.ts';

export const CODEC_VERSION = 1;
const KIND_MESSAGE = 1;
const KIND_OUTBOUND = 2;
const KIND_SESSION = 3;

const FLAG_RETAIN = 0x04;
const FLAG_PROPS = 0x08;
const MSG_HEADER = 16;
const SESSION_HEADER = 20;
const SESSION_HAS_WILL = 0x01;
const SESSION_USER_RECORDED = 0x02;
const SESSION_HAS_USER = 0x04;

const STATES: readonly OutboundState[] = ['queued', 'sent', 'pubrel'];

// ---------------------------------------------------------------- messages

export function encodeMessage(msg: StoredMessage): Buffer {
  return encodeMessageRecord(msg, KIND_MESSAGE, 0, 0);
}

export function decodeMessage(rec: Uint8Array): StoredMessage {
  const r = new Reader(rec);
  r.header(KIND_MESSAGE);
  const m = readMessageBody(r);
  r.done();
  return m;
}

export function encodeOutbound(e: OutboundEntry): Buffer {
  const state = STATES.indexOf(e.state);
  if (state < 0) throw new TypeError(`unknown outbound state ${String(e.state)}`);
  return encodeMessageRecord(e.msg, KIND_OUTBOUND, state, e.packetId);
}

export function decodeOutbound(rec: Uint8Array): OutboundEntry {
  const r = new Reader(rec);
  r.header(KIND_OUTBOUND);
  const m = readMessageBody(r);
  const state = STATES[r.buf[3]!];
  if (state === undefined) throw r.corrupt(`unknown outbound state ${r.buf[3]}`);
  const packetId = r.buf.readUInt16LE(4);
  r.done();
  return { packetId, state, msg: m };
}

function encodeMessageRecord(msg: StoredMessage, kind: number, state: number, packetId: number): Buffer {
  const topicLen = Buffer.byteLength(msg.topic, 'utf8');
  const props = msg.properties;
  const size = MSG_HEADER + 4 + topicLen + (props ? 4 + props.length : 0) + 4 + msg.payload.length;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = CODEC_VERSION;
  buf[1] = kind;
  buf[2] = messageFlags(msg.qos, msg.retain, props);
  buf[3] = state;
  buf.writeUInt16LE(packetId, 4);
  buf.writeUInt16LE(0, 6);
  buf.writeDoubleLE(msg.expiresAt, 8);
  let pos = writeStr(buf, MSG_HEADER, msg.topic, topicLen);
  if (props) pos = writeBytes(buf, pos, props);
  writeBytes(buf, pos, msg.payload);
  return buf;
}

function readMessageBody(r: Reader): StoredMessage {
  const flags = r.buf[2]!;
  const qos = qosOf(r, flags);
  const expiresAt = r.buf.readDoubleLE(8);
  r.pos = MSG_HEADER;
  const topic = r.str();
  const properties = flags & FLAG_PROPS ? r.bytes() : null;
  const payload = r.bytes();
  return { topic, payload, qos, retain: (flags & FLAG_RETAIN) !== 0, properties, expiresAt };
}

// ---------------------------------------------------------------- sessions

export function encodeSession(s: StoredSession): Buffer {
  const idLen = Buffer.byteLength(s.clientId, 'utf8');
  let size = SESSION_HEADER + 4 + idLen + 4;
  const filterLens = new Array<number>(s.subscriptions.length);
  for (let i = 0; i < s.subscriptions.length; i++) {
    filterLens[i] = Buffer.byteLength(s.subscriptions[i]!.filter, 'utf8');
    size += 4 + filterLens[i]! + 1 + 4;
  }
  const w = s.will;
  const willTopicLen = w ? Buffer.byteLength(w.topic, 'utf8') : 0;
  if (w) size += 1 + 8 + 4 + willTopicLen + (w.properties ? 4 + w.properties.length : 0) + 4 + w.payload.length;
  const user = s.username;
  const userLen = typeof user === 'string' ? Buffer.byteLength(user, 'utf8') : 0;
  if (typeof user === 'string') size += 4 + userLen;

  const buf = Buffer.allocUnsafe(size);
  buf[0] = CODEC_VERSION;
  buf[1] = KIND_SESSION;
  buf[2] = s.protocolVersion;
  buf[3] = (w ? SESSION_HAS_WILL : 0) | (user === undefined ? 0 : SESSION_USER_RECORDED) | (typeof user === 'string' ? SESSION_HAS_USER : 0);
  buf.writeUInt32LE(s.expiryInterval, 4);
  buf.writeDoubleLE(s.disconnectedAt, 8);
  buf.writeUInt16LE(s.nextPacketId, 16);
  buf.writeUInt16LE(0, 18);
  let pos = writeStr(buf, SESSION_HEADER, s.clientId, idLen);
  buf.writeUInt32LE(s.subscriptions.length, pos);
  pos += 4;
  for (let i = 0; i < s.subscriptions.length; i++) {
    const sub = s.subscriptions[i]!;
    pos = writeStr(buf, pos, sub.filter, filterLens[i]!);
    buf[pos++] = (sub.qos & 3) | (sub.noLocal ? 0x04 : 0) | (sub.retainAsPublished ? 0x08 : 0) | ((sub.retainHandling & 3) << 4);
    buf.writeUInt32LE(sub.subscriptionId, pos);
    pos += 4;
  }
  if (w) {
    buf[pos++] = messageFlags(w.qos, w.retain, w.properties);
    buf.writeDoubleLE(w.delayMs, pos);
    pos = writeStr(buf, pos + 8, w.topic, willTopicLen);
    if (w.properties) pos = writeBytes(buf, pos, w.properties);
    pos = writeBytes(buf, pos, w.payload);
  }
  if (typeof user === 'string') writeStr(buf, pos, user, userLen);
  return buf;
}

export function decodeSession(rec: Uint8Array): StoredSession {
  const r = new Reader(rec);
  r.header(KIND_SESSION);
  if (r.buf.length < SESSION_HEADER) throw r.corrupt('short session header');
  const protocolVersion = r.buf[2]!;
  if (protocolVersion !== 3 && protocolVersion !== 4 && protocolVersion !== 5) throw r.corrupt(`protocol version ${protocolVersion}`);
  const flags = r.buf[3]!;
  const hasWill = (flags & SESSION_HAS_WILL) !== 0;
  if ((flags & SESSION_HAS_USER) !== 0 && (flags & SESSION_USER_RECORDED) === 0) throw r.corrupt(`session flags ${flags}`);
  const expiryInterval = r.buf.readUInt32LE(4);
  const disconnectedAt = r.buf.readDoubleLE(8);
  const nextPacketId = r.buf.readUInt16LE(16);
  r.pos = SESSION_HEADER;
  const clientId = r.str();
  const count = r.u32();
  // Each subscription takes at least 9 bytes: refuse absurd counts before allocating.
  if (count * 9 > r.buf.length - r.pos) throw r.corrupt(`subscription count ${count}`);
  const subscriptions: StoredSubscription[] = [];
  for (let i = 0; i < count; i++) {
    const filter = r.str();
    const o = r.u8();
    const retainHandling = (o >> 4) & 3;
    if ((o & 3) === 3 || retainHandling === 3) throw r.corrupt(`subscription options ${o}`);
    subscriptions.push({
      filter,
      qos: (o & 3) as 0 | 1 | 2,
      noLocal: (o & 0x04) !== 0,
      retainAsPublished: (o & 0x08) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
      subscriptionId: r.u32(),
    });
  }
  let will: StoredWill | null = null;
  if (hasWill) {
    const wflags = r.u8();
    const qos = qosOf(r, wflags);
    const delayMs = r.f64();
    const topic = r.str();
    const properties = wflags & FLAG_PROPS ? r.bytes() : null;
    const payload = r.bytes();
    will = { topic, payload, qos, retain: (wflags & FLAG_RETAIN) !== 0, properties, delayMs };
  }
  const username = (flags & SESSION_HAS_USER) !== 0 ? r.str() : null;
  r.done();
  const s: StoredSession = { clientId, protocolVersion, expiryInterval, disconnectedAt, subscriptions, will, nextPacketId };
  if ((flags & SESSION_USER_RECORDED) !== 0) s.username = username;
  return s;
}

// ---------------------------------------------------------------- primitives

function messageFlags(qos: number, retain: boolean, props: Buffer | null): number {
  return (qos & 3) | (retain ? FLAG_RETAIN : 0) | (props ? FLAG_PROPS : 0);
}

function qosOf(r: Reader, flags: number): 0 | 1 | 2 {
  const qos = flags & 3;
  if (qos === 3) throw r.corrupt('qos 3');
  return qos as 0 | 1 | 2;
}

function writeStr(buf: Buffer, pos: number, s: string, byteLen: number): number {
  buf.writeUInt32LE(byteLen, pos);
  buf.write(s, pos + 4, byteLen, 'utf8');
  return pos + 4 + byteLen;
}

function writeBytes(buf: Buffer, pos: number, b: Uint8Array): number {
  buf.writeUInt32LE(b.length, pos);
  buf.set(b, pos + 4);
  return pos + 4 + b.length;
}

/** Bounds-checked cursor: a damaged record becomes a STORE_CORRUPT error, never a bad value. */
class Reader {
  readonly buf: Buffer;
  pos = 0;

  constructor(rec: Uint8Array) {
    this.buf = Buffer.isBuffer(rec) ? rec : Buffer.from(rec.buffer, rec.byteOffset, rec.byteLength);
  }

  header(kind: number): void {
    if (this.buf.length < 2) throw this.corrupt('record too short');
    if (this.buf[0] !== CODEC_VERSION) {
      throw new StoreError(
        this.buf[0]! > CODEC_VERSION ? StoreErrorCode.VERSION : StoreErrorCode.CORRUPT,
        `store record has codec version ${this.buf[0]}, this build reads ${CODEC_VERSION}`,
      );
    }
    if (this.buf[1] !== kind) throw this.corrupt(`record kind ${this.buf[1]}, expected ${kind}`);
    if (kind !== KIND_SESSION && this.buf.length < MSG_HEADER) throw this.corrupt('short message header');
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw this.corrupt(`needs ${n} bytes at ${this.pos}, record has ${this.buf.length}`);
  }

  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.buf.readDoubleLE(this.pos); this.pos += 8; return v; }

  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  done(): void {
    if (this.pos !== this.buf.length) throw this.corrupt(`${this.buf.length - this.pos} trailing bytes`);
  }

  corrupt(what: string): StoreError {
    return new StoreError(StoreErrorCode.CORRUPT, `undecodable store record: ${what}`);
  }
}

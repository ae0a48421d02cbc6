// The PUBLISH frame between shards, encoders and in-place decoder side by side (other frame
// families: peers/frames.ts), and the view a QoS 0 PUBLISH of a local client is forwarded from.
import type { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { FrameType } from '../peers/frames.ts';
import { cachedString } from '../../shared/string-cache.ts';
import { Message } from '../session/message.ts';

export const PubFlag = {
  QOS_MASK: 3,
  RETAIN: 4,
  DELIVER: 8,         // match the target's local (non-shared) subscriptions
  RETAIN_UPDATE: 16,  // update the target's retained replica (sent only by the topic's home shard)
  EXPIRES: 32,        // in the frame only (writePublish sets it): an f64 expiry follows; absent = never expires
  SENDER: 64,         // in the frame only: the publishing shard of another node follows (only while a session moves between nodes, worker/cluster/node-moves.ts)
  RESENT: 128,        // between nodes only: sent again after a NATS outage; the receiver drops it if it routed it already (worker/cluster/link.ts)
} as const;

/**
 * `seq` numbers the publishes of the sending shard (with the ring's peer id: a message's identity).
 * The topic and payload travel as an encoded v3.1.1 QoS 0 PUBLISH (retain flag as published), so
 * the receiving shard can copy it straight from the ring to subscribers that take that form;
 * it builds a Message only for the others (PublishView.read below reads the frame).
 */
export function writePublish(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, topic: string, origin: string,
  props: Buffer | null, payload: Buffer, groups: readonly string[] | null, sender: string | null = null,
): void {
  writePublishHead(w, flags, seq, expiresAt, origin, props, groups, sender);
  w.mqttPublish((flags & PubFlag.RETAIN) !== 0 ? 0x31 : 0x30, topic, payload);
}

/** writePublish of a message that is already an encoded v3.1.1 QoS 0 PUBLISH: `wire[off, off + len)`. */
export function writePublishWire(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, origin: string,
  props: Buffer | null, groups: readonly string[] | null, wire: Uint8Array, off: number, len: number,
): void {
  writePublishHead(w, flags, seq, expiresAt, origin, props, groups, null);
  w.bytes(wire, off, off + len);
}

function writePublishHead(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, origin: string,
  props: Buffer | null, groups: readonly string[] | null, sender: string | null,
): void {
  const f = sender === null ? flags : flags | PubFlag.SENDER;
  if (expiresAt !== 0) w.u8(FrameType.PUBLISH).u8(f | PubFlag.EXPIRES).u32(seq).f64(expiresAt);
  else w.u8(FrameType.PUBLISH).u8(f).u32(seq);
  w.str(origin).maybeBytes(props);
  const n = groups === null ? 0 : groups.length;
  w.u16(n);
  for (let i = 0; i < n; i++) w.str(groups![i]!);
  if (sender !== null) w.str(sender);
}

/**
 * A message whose topic and payload are still an encoded v3.1.1 QoS 0 PUBLISH in someone
 * else's memory (`buf[wireOff, wireOff + wireLen)`, payload from `payloadOff`), so it can be
 * copied as it is to subscribers that take that form (Delivery.deliverView) and forwarded to
 * peer shards without re-encoding. Two sources:
 * - `read`: a PUBLISH frame from a peer shard (`writePublish` above), fields decoded in
 *   place (the origin when asked); the bytes are the ring's, reused after the frame handler;
 * - `inbound`: a v3.1/3.1.1 QoS 0 PUBLISH as a client of this shard sent it; the bytes are the
 *   socket's read chunk.
 * Valid only during the synchronous handling: `toMessage()` makes what a kept message needs.
 */
export class PublishView {
  flags = 0;
  from = -1;
  seq = 0;
  expiresAt = 0;
  props: Buffer | null = null;
  groups: string[] | null = null;
  /** The publishing shard of another node ("node.shard"), when the frame names it (PubFlag.SENDER). */
  sender: string | null = null;
  topic = '';
  buf: Buffer = Buffer.alloc(0);
  wireOff = 0;
  wireLen = 0;
  payloadOff = 0;
  /** The bytes are a ring slot (a Message copies the payload) rather than a read chunk (a view will do). */
  private inRing = false;

  /** The publisher's client id, decoded when first asked (only No Local and a built Message need it). */
  private originStr: string | null = null;
  private originOff = 0;
  private originLen = 0;

  get origin(): string {
    return this.originStr ??= cachedString(this.buf, this.originOff, this.originOff + this.originLen, false);
  }

  get qos(): 0 | 1 | 2 { return (this.flags & PubFlag.QOS_MASK) as 0 | 1 | 2; }
  get retain(): boolean { return (this.flags & PubFlag.RETAIN) !== 0; }

  /** Reads the frame after its type byte. */
  read(r: ByteReader, from: number): this {
    this.from = from;
    const flags = r.u8();
    this.flags = flags & ~(PubFlag.EXPIRES | PubFlag.SENDER | PubFlag.RESENT);
    this.seq = r.u32();
    this.expiresAt = (flags & PubFlag.EXPIRES) !== 0 ? r.f64() : 0;
    const olen = r.u32();
    if (r.pos + olen > r.end) throw new RangeError(`PUBLISH frame truncated: origin of ${olen} bytes at ${r.pos}, end ${r.end}`);
    this.buf = r.buf;
    this.inRing = true;
    this.originStr = null;
    this.originOff = r.pos;
    this.originLen = olen;
    r.pos += olen;
    this.props = r.maybeBytes();
    const n = r.u16();
    let groups: string[] | null = null;
    if (n > 0) { groups = []; for (let i = 0; i < n; i++) groups.push(r.str()); }
    this.groups = groups;
    this.sender = (flags & PubFlag.SENDER) !== 0 ? r.str() : null;
    const len = r.u32();
    const buf = r.buf;
    const off = r.pos;
    if (off + len > r.end || len < 4) throw new RangeError(`PUBLISH frame truncated: ${len} bytes at ${off}, end ${r.end}`);
    r.pos = off + len;
    let p = off + 1;
    while ((buf[p]! & 0x80) !== 0) p++;
    p++;
    const tlen = (buf[p]! << 8) | buf[p + 1]!;
    p += 2;
    this.topic = cachedString(buf, p, p + tlen, false);
    this.wireOff = off;
    this.wireLen = len;
    this.payloadOff = p + tlen;
    return this;
  }

  /**
   * A QoS 0 PUBLISH of a v3.1/3.1.1 client at `buf[off, off + len)` (a canonical Remaining
   * Length, so it is byte for byte the form the frames carry), not retained; `from`: this shard.
   */
  inbound(buf: Buffer, off: number, len: number, payloadOff: number, topic: string, origin: string, from: number): this {
    this.from = from;
    this.flags = 0;
    this.seq = 0;
    this.expiresAt = 0;
    this.originStr = origin;
    this.props = null;
    this.groups = null;
    this.sender = null;
    this.topic = topic;
    this.buf = buf;
    this.inRing = false;
    this.wireOff = off;
    this.wireLen = len;
    this.payloadOff = payloadOff;
    return this;
  }

  /**
   * The message as the rest of the broker holds it: the payload copied out of a ring, or a view
   * of a read chunk (as for any inbound PUBLISH: whoever keeps the message detaches it).
   */
  toMessage(): Message {
    const end = this.wireOff + this.wireLen;
    let payload: Buffer;
    if (this.inRing) {
      payload = Buffer.allocUnsafe(end - this.payloadOff);
      this.buf.copy(payload, 0, this.payloadOff, end);
    } else payload = this.buf.subarray(this.payloadOff, end);
    const m = new Message(this.topic, payload, this.qos, this.retain, this.props, this.expiresAt, this.origin);
    if (this.inRing) m.owned(); // copied above: a delivery that keeps it need not copy it again
    m.src = this.from;
    m.seq = this.seq;
    m.sender = this.sender;
    return m;
  }
}

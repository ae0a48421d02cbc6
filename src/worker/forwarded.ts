import type { ByteReader } from '../shared/bytes.ts';
import { PubFlag } from '../shared/frames.ts';
import { cachedString } from '../shared/string-cache.ts';
import { Message } from './message.ts';

/**
 * A PUBLISH frame from a peer shard (frames.ts `writePublish`), read in place: the fields are
 * decoded (the origin when asked), the topic and payload stay in the ring as an encoded v3.1.1 QoS 0 PUBLISH
 * (`buf[wireOff, wireOff + wireLen)`). Valid only while the frame handler runs (the ring slot
 * is reused afterwards): `toMessage()` copies what a kept message needs. One per thread.
 */
export class ForwardedPublish {
  flags = 0;
  from = -1;
  seq = 0;
  expiresAt = 0;
  props: Buffer | null = null;
  groups: string[] | null = null;
  topic = '';
  buf: Buffer = Buffer.alloc(0);
  wireOff = 0;
  wireLen = 0;
  payloadOff = 0;

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
    this.flags = flags & ~PubFlag.EXPIRES;
    this.seq = r.u32();
    this.expiresAt = (flags & PubFlag.EXPIRES) !== 0 ? r.f64() : 0;
    const olen = r.u32();
    if (r.pos + olen > r.end) throw new RangeError(`PUBLISH frame truncated: origin of ${olen} bytes at ${r.pos}, end ${r.end}`);
    this.buf = r.buf;
    this.originStr = null;
    this.originOff = r.pos;
    this.originLen = olen;
    r.pos += olen;
    this.props = r.maybeBytes();
    const n = r.u16();
    let groups: string[] | null = null;
    if (n > 0) { groups = []; for (let i = 0; i < n; i++) groups.push(r.str()); }
    this.groups = groups;
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

  /** The message as the rest of the broker holds it (payload copied out of the ring). */
  toMessage(): Message {
    const end = this.wireOff + this.wireLen;
    const payload = Buffer.allocUnsafe(end - this.payloadOff);
    this.buf.copy(payload, 0, this.payloadOff, end);
    const m = new Message(this.topic, payload, this.qos, this.retain, this.props, this.expiresAt, this.origin);
    m.src = this.from;
    m.seq = this.seq;
    return m;
  }
}

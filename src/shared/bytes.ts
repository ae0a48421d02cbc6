// Compact binary writer/reader for frames between threads and for session hand-off.
// One growable writer per thread is reused for every frame, so encoding allocates nothing
// in steady state; the reader is re-pointed at each frame.
import { cachedString } from './string-cache.ts';
import { copyBytes } from './ring/copy.ts';
import { encodeVarint, varintLength } from './protocol/varint.ts';

/**
 * Writes `s` as UTF-8 at `pos` (the caller made room for 3 bytes per unit); returns the bytes
 * written. Short ASCII strings (topics, client ids) go through a JS loop: the native UTF-8
 * write costs more than the copy for them.
 */
function writeUtf8(buf: Buffer, s: string, pos: number): number {
  const n = s.length;
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos + i] = c;
    }
    if (i === n) return n;
  }
  return buf.write(s, pos, 'utf8');
}

export class ByteWriter {
  buf: Buffer;
  pos = 0;
  constructor(initial = 64 * 1024) { this.buf = Buffer.allocUnsafe(initial); }

  reset(): this { this.pos = 0; return this; }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): this { this.ensure(1); this.buf[this.pos++] = v; return this; }
  u16(v: number): this { this.ensure(2); this.buf.writeUInt16LE(v, this.pos); this.pos += 2; return this; }
  u32(v: number): this { this.ensure(4); this.buf.writeUInt32LE(v >>> 0, this.pos); this.pos += 4; return this; }
  f64(v: number): this { this.ensure(8); this.buf.writeDoubleLE(v, this.pos); this.pos += 8; return this; }
  /** UTF-8 string with a u32 byte-length prefix. */
  str(s: string): this {
    // Worst case 3 bytes per UTF-16 unit; write in place, then back-fill the length.
    this.ensure(4 + s.length * 3);
    const n = writeUtf8(this.buf, s, this.pos + 4);
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
    return this;
  }
  bytes(b: Uint8Array, start = 0, end = b.length): this {
    const n = end - start;
    this.ensure(4 + n);
    this.buf.writeUInt32LE(n, this.pos);
    copyBytes(this.buf, this.pos + 4, b, start, n);
    this.pos += 4 + n;
    return this;
  }
  /** Optional bytes: length 0xFFFFFFFF marks null. */
  maybeBytes(b: Uint8Array | null): this {
    if (b === null) return this.u32(0xffffffff);
    return this.bytes(b);
  }
  /**
   * An MQTT v3.1.1 QoS 0 PUBLISH (fixed header byte `b0`, topic, payload; the form v3.1 shares)
   * with a u32 length prefix, like `bytes` of what encodePublish would return, without the
   * intermediate buffer. Topic is at most 65,535 UTF-8 bytes (the caller validated it).
   */
  mqttPublish(b0: number, topic: string, payload: Uint8Array): this {
    const pl = payload.length;
    this.ensure(4 + 5 + 2 + topic.length * 3 + pl);
    const buf = this.buf;
    const start = this.pos;
    // The topic's UTF-8 length decides the header size: guess it is ASCII, move it if not.
    let vl = varintLength(2 + topic.length + pl);
    const guessAt = start + 4 + 1 + vl + 2;
    const tlen = writeUtf8(buf, topic, guessAt);
    const rem = 2 + tlen + pl;
    if (varintLength(rem) !== vl) {
      vl = varintLength(rem);
      buf.copyWithin(start + 4 + 1 + vl + 2, guessAt, guessAt + tlen);
    }
    let p = start + 4;
    buf[p++] = b0;
    p += encodeVarint(rem, buf, p);
    buf[p++] = tlen >>> 8;
    buf[p++] = tlen & 0xff;
    p += tlen;
    copyBytes(buf, p, payload, 0, pl);
    p += pl;
    buf.writeUInt32LE(p - start - 4, start);
    this.pos = p;
    return this;
  }
}

export class ByteReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  at(buf: Uint8Array, offset: number, length: number): this {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = offset;
    this.end = offset + length;
    return this;
  }
  private need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`frame truncated: need ${n} bytes at ${this.pos}, end ${this.end}`);
  }
  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16LE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.buf.readDoubleLE(this.pos); this.pos += 8; return v; }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = cachedString(this.buf, this.pos, this.pos + n, false);
    this.pos += n;
    return s;
  }
  /** Copies: the frame's memory belongs to the ring and is reused after the handler returns. */
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  maybeBytes(): Buffer | null {
    if (this.buf.readUInt32LE(this.pos) === 0xffffffff) { this.pos += 4; return null; }
    return this.bytes();
  }
}

// Splits a TCP byte stream into MQTT packets without copying whole chunks: complete packets
// are handed out as views into the chunk that carried them; only a packet split across
// chunks is assembled in a side buffer. Callbacks must consume the bytes synchronously.
export type PacketHandler = (buf: Buffer, offset: number, length: number) => void;
export type FramerErrorHandler = (code: 'MALFORMED_LENGTH' | 'PACKET_TOO_LARGE') => void;

export class Framer {
  private readonly maxPacketSize: number;
  private readonly onPacket: PacketHandler;
  private readonly onError: FramerErrorHandler;
  private pending: Buffer = Buffer.allocUnsafe(0);
  private pendingLen = 0;
  private failed = false;

  constructor(maxPacketSize: number, onPacket: PacketHandler, onError: FramerErrorHandler) {
    this.maxPacketSize = maxPacketSize;
    this.onPacket = onPacket;
    this.onError = onError;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let off = 0;
    const end = chunk.length;
    if (this.pendingLen > 0) {
      off = this.completePending(chunk);
      if (off < 0) return;
    }
    while (end - off >= 2) {
      const total = packetTotal(chunk, off, end);
      if (total === INCOMPLETE) break;
      if (total === MALFORMED) return this.fail('MALFORMED_LENGTH');
      if (total > this.maxPacketSize) return this.fail('PACKET_TOO_LARGE');
      if (end - off < total) break;
      this.onPacket(chunk, off, total);
      if (this.failed) return;
      off += total;
    }
    if (off < end) {
      this.reserve(Math.max(end - off, 256));
      chunk.copy(this.pending, 0, off, end);
      this.pendingLen = end - off;
    }
  }

  /** Moves bytes from `chunk` into the pending packet; returns where the chunk continues, or -1. */
  private completePending(chunk: Buffer): number {
    let off = 0;
    let total = packetTotal(this.pending, 0, this.pendingLen);
    // The length field may itself be split: feed it one byte at a time (at most 4 more).
    while (total === INCOMPLETE && off < chunk.length) {
      this.reserve(this.pendingLen + 1);
      this.pending[this.pendingLen++] = chunk[off++];
      total = packetTotal(this.pending, 0, this.pendingLen);
    }
    if (total === INCOMPLETE) return -1;
    if (total === MALFORMED) { this.fail('MALFORMED_LENGTH'); return -1; }
    if (total > this.maxPacketSize) { this.fail('PACKET_TOO_LARGE'); return -1; }
    const take = Math.min(total - this.pendingLen, chunk.length - off);
    this.reserve(total);
    chunk.copy(this.pending, this.pendingLen, off, off + take);
    this.pendingLen += take;
    off += take;
    if (this.pendingLen < total) return -1;
    this.pendingLen = 0;
    this.onPacket(this.pending, 0, total);
    return this.failed ? -1 : off;
  }

  private reserve(size: number): void {
    if (this.pending.length >= size) return;
    const next = Buffer.allocUnsafe(Math.max(size, this.pending.length * 2));
    this.pending.copy(next, 0, 0, this.pendingLen);
    this.pending = next;
  }

  private fail(code: 'MALFORMED_LENGTH' | 'PACKET_TOO_LARGE'): void {
    this.failed = true;
    this.pendingLen = 0;
    this.onError(code);
  }
}

const INCOMPLETE = -1;
const MALFORMED = -2;

/** Whole packet size (fixed header + remaining length) starting at `off`, or INCOMPLETE/MALFORMED. */
export function packetTotal(buf: Buffer, off: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let i = off + 1; i < off + 5; i++) {
    if (i >= end) return INCOMPLETE;
    const b = buf[i];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return i - off + 1 + value;
    mul *= 128;
  }
  return MALFORMED;
}

// Splits a TCP byte stream into whole MQTT packets. Only the fixed header is read here
// (type byte + remaining length); the packet size limit is enforced as soon as that header
// is complete, before any of the body is buffered, so an oversized packet costs nothing.

export const FramerError = {
  /** remaining length longer than 4 bytes [MQTT-1.5.5 / 2.2.3] */
  MALFORMED_LENGTH: 'MALFORMED_LENGTH',
  /** whole packet (fixed header included) larger than `maxPacketSize` */
  PACKET_TOO_LARGE: 'PACKET_TOO_LARGE',
} as const;
export type FramerError = (typeof FramerError)[keyof typeof FramerError];

export type PacketHandler = (buf: Buffer, offset: number, length: number) => void;
/** `size` is the declared packet size for PACKET_TOO_LARGE (for logs), else 0 */
export type FramerErrorHandler = (code: FramerError, size: number) => void;

// Longest incomplete fixed header: type byte + 3 length bytes all with the "more" bit.
const MAX_HEADER = 5;

/**
 * Packets lying inside one chunk are handed over as (chunk, offset, length) with no copy;
 * only a packet split across chunks is copied into a buffer of its exact size. A handler
 * that keeps a view past its return (a retained payload, a queued message) should copy it:
 * a view pins the whole socket chunk in memory.
 */
export class Framer {
  maxPacketSize: number;
  private readonly onPacket: PacketHandler;
  private readonly onError: FramerErrorHandler;

  // Partial fixed header, while fewer than its bytes have arrived.
  // Made on first use: most connections never see a header split across reads, and an idle
  // connection should not hold a buffer of its own.
  private head: Buffer | null = null;
  private headLen = 0;
  // Partial packet body: `acc` has room for the whole packet, `accLen` bytes filled.
  private acc: Buffer | null = null;
  private accLen = 0;
  // Stopped after an error or stop(); bumped by reset() so a push loop running the
  // handler that called reset() notices and returns.
  private stopped = false;
  private generation = 0;

  constructor(maxPacketSize: number, onPacket: PacketHandler, onError: FramerErrorHandler) {
    this.maxPacketSize = maxPacketSize;
    this.onPacket = onPacket;
    this.onError = onError;
  }

  /** Bytes held for a packet not yet complete (for memory accounting). */
  get buffered(): number {
    return this.acc !== null ? this.accLen : this.headLen;
  }

  /** Whether the framer stopped delivering (after an error or stop()). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Drops any partial packet and clears a previous error. */
  reset(): void {
    this.headLen = 0;
    this.acc = null;
    this.accLen = 0;
    this.stopped = false;
    this.generation++;
  }

  /** Delivers nothing more, including the rest of a chunk being pushed. */
  stop(): void {
    this.stopped = true;
    this.acc = null;
    this.headLen = 0;
    this.accLen = 0;
  }

  /** Splits chunk[start, end) (default: all of it). Packets are handed over as views into chunk. */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    if (this.stopped) return;
    const gen = this.generation;
    let pos = start;

    if (this.headLen > 0) {
      pos = this.continueHeader(chunk, pos, end);
      if (pos < 0) return; // error, or the header is still incomplete
    }
    if (this.acc !== null) {
      pos = this.continueBody(chunk, pos, end, gen);
      if (pos < 0) return;
    }

    while (pos < end) {
      // Fixed header in place. One length byte is the overwhelmingly common case.
      if (pos + 1 >= end) return this.saveHead(chunk, pos, end);
      let remaining = chunk[pos + 1];
      let headerLen = 2;
      if (remaining >= 0x80) {
        remaining &= 0x7f;
        let mul = 0x80;
        for (;;) {
          if (headerLen === MAX_HEADER) return this.fail(FramerError.MALFORMED_LENGTH, 0);
          if (pos + headerLen >= end) return this.saveHead(chunk, pos, end);
          const b = chunk[pos + headerLen++];
          remaining += (b & 0x7f) * mul;
          if (b < 0x80) break;
          mul *= 0x80;
        }
      }
      const total = headerLen + remaining;
      if (total > this.maxPacketSize) return this.fail(FramerError.PACKET_TOO_LARGE, total);

      if (total > end - pos) {
        const acc = Buffer.allocUnsafe(total);
        chunk.copy(acc, 0, pos, end);
        this.acc = acc;
        this.accLen = end - pos;
        return;
      }
      this.onPacket(chunk, pos, total);
      if (this.stopped || gen !== this.generation) return;
      pos += total;
    }
  }

  // Feeds header bytes one at a time until the length is known. Returns the chunk position
  // after the header bytes taken, or -1 when nothing more can be done with this chunk.
  private continueHeader(chunk: Buffer, pos: number, end: number): number {
    const head = this.head!;
    while (pos < end) {
      head[this.headLen++] = chunk[pos++];
      if (this.headLen < 2) continue;
      const last = head[this.headLen - 1];
      if (last >= 0x80) {
        if (this.headLen === MAX_HEADER) {
          this.fail(FramerError.MALFORMED_LENGTH, 0);
          return -1;
        }
        continue;
      }
      let remaining = 0;
      let mul = 1;
      for (let i = 1; i < this.headLen; i++) {
        remaining += (head[i] & 0x7f) * mul;
        mul *= 0x80;
      }
      const total = this.headLen + remaining;
      if (total > this.maxPacketSize) {
        this.fail(FramerError.PACKET_TOO_LARGE, total);
        return -1;
      }
      const acc = Buffer.allocUnsafe(total);
      head.copy(acc, 0, 0, this.headLen);
      this.acc = acc;
      this.accLen = this.headLen;
      this.headLen = 0;
      return pos;
    }
    return -1;
  }

  // Copies body bytes into the accumulation buffer; delivers the packet once complete.
  // Returns the chunk position after the packet, or -1 when the chunk is used up or the
  // handler stopped/reset the framer.
  private continueBody(chunk: Buffer, pos: number, end: number, gen: number): number {
    const acc = this.acc!;
    const n = Math.min(acc.length - this.accLen, end - pos);
    chunk.copy(acc, this.accLen, pos, pos + n);
    this.accLen += n;
    pos += n;
    if (this.accLen < acc.length) return -1;
    this.acc = null;
    this.accLen = 0;
    this.onPacket(acc, 0, acc.length);
    if (this.stopped || gen !== this.generation) return -1;
    return pos;
  }

  private saveHead(chunk: Buffer, pos: number, end: number): void {
    chunk.copy((this.head ??= Buffer.allocUnsafe(MAX_HEADER)), 0, pos, end);
    this.headLen = end - pos;
  }

  private fail(code: FramerError, size: number): void {
    this.stop();
    this.onError(code, size);
  }
}

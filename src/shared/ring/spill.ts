// FIFO of byte frames for RingSender's spill queue.
//
// Spilling happens exactly when a thread is overloaded, so it must not make things worse:
// one Buffer per spilled frame meant ~2.6 µs per 4 KiB frame on Node 26, mostly GC driven by
// external-memory pressure. Instead frames are packed back to back into 64 KiB chunks
// ([u32 length][bytes] each, never split across chunks), and drained chunks are recycled.
// Frames too big to pack well get a chunk of their own.

import { copyBytes } from './copy.ts';

const CHUNK_BYTES = 64 * 1024;
/** Larger frames get a dedicated buffer instead of wasting the tail of a shared chunk. */
const PACK_LIMIT = CHUNK_BYTES / 4;
/** Spare chunks kept for reuse (256 KiB); more are left to the GC. */
const MAX_SPARE = 4;
const LEN_BYTES = 4;

interface Chunk {
  buf: Uint8Array;
  /** Next entry to read (its length word). */
  r: number;
  /** Where the next entry goes. */
  w: number;
  /** A dedicated chunk for one big frame: never reused, never appended to. */
  single: boolean;
}

export class SpillQueue {
  private chunks: Chunk[] = [];
  private head = 0;
  private spare: Uint8Array[] = [];
  private frames = 0;
  private payloadBytes = 0;

  /** Frames queued. */
  get count(): number {
    return this.frames;
  }

  /** Payload bytes queued (framing not included). */
  get bytes(): number {
    return this.payloadBytes;
  }

  push(src: Uint8Array, offset: number, length: number): void {
    if (length > PACK_LIMIT) {
      const buf = Buffer.allocUnsafe(length);
      copyBytes(buf, 0, src, offset, length);
      this.chunks.push({ buf, r: 0, w: length, single: true });
    } else {
      let tail = this.chunks.length > this.head ? this.chunks[this.chunks.length - 1]! : undefined;
      if (tail === undefined || tail.single || tail.w + LEN_BYTES + length > tail.buf.length) {
        tail = { buf: this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES), r: 0, w: 0, single: false };
        this.chunks.push(tail);
      }
      const buf = tail.buf;
      const w = tail.w;
      buf[w] = length;
      buf[w + 1] = length >>> 8;
      buf[w + 2] = length >>> 16;
      buf[w + 3] = length >>> 24;
      copyBytes(buf, w + LEN_BYTES, src, offset, length);
      tail.w = w + LEN_BYTES + length;
    }
    this.frames++;
    this.payloadBytes += length;
  }

  // The head frame is exposed as (headBuffer, headOffset, headLength); valid while count > 0
  // and until shift().

  get headBuffer(): Uint8Array {
    return this.headChunk().buf;
  }

  get headOffset(): number {
    const c = this.headChunk();
    return c.single ? 0 : c.r + LEN_BYTES;
  }

  get headLength(): number {
    const c = this.headChunk();
    if (c.single) return c.w;
    const b = c.buf;
    const r = c.r;
    return (b[r]! | (b[r + 1]! << 8) | (b[r + 2]! << 16) | (b[r + 3]! << 24)) >>> 0;
  }

  /** Drop the head frame. */
  shift(): void {
    const c = this.headChunk();
    const length = this.headLength;
    this.frames--;
    this.payloadBytes -= length;
    c.r = c.single ? c.w : c.r + LEN_BYTES + length;
    if (c.r < c.w) return;
    // Chunk drained: recycle its buffer and move on (an emptied queue starts afresh).
    if (!c.single && this.spare.length < MAX_SPARE) this.spare.push(c.buf);
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }

  private headChunk(): Chunk {
    if (this.frames === 0) throw new Error('spill queue is empty');
    return this.chunks[this.head]!;
  }
}

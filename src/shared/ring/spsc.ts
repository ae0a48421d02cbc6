// Single-producer single-consumer byte ring over a SharedArrayBuffer region (see layout.ts).
//
// Memory ordering: the producer writes the record (length word + payload) with plain stores,
// then publishes it with Atomics.store(WRITE). The consumer Atomics.loads WRITE before reading
// any record up to it, and Atomics.stores READ only after the handler has returned, so the
// producer never overwrites bytes the consumer may still be looking at. Atomics are
// sequentially consistent in JS, which gives the release/acquire pairing we need.
//
// Each side keeps a private copy of its own index (authoritative: only it writes that slot)
// and a cached copy of the other side's index, refreshed only when the cache says "full" or
// "empty". That keeps the other side's cache line from bouncing on every frame.

import {
  FRAME_HEADER_BYTES,
  HEADER_BYTES,
  LENGTH_MASK,
  MAX_TAG,
  RING_MAGIC,
  Slot,
  TAG_SHIFT,
  checkCapacity,
  ringByteLength,
} from './layout.ts';
import { copyBytes } from './copy.ts';

export type FrameHandler = (buf: Uint8Array, offset: number, length: number) => void;
/** A handler may also take the record's tag (0..3); channel.ts does. Any FrameHandler fits. */
export type TaggedFrameHandler = (buf: Uint8Array, offset: number, length: number, tag: number) => void;

export class SpscRing {
  static byteLength(capacity: number): number {
    return ringByteLength(capacity);
  }

  readonly capacity: number;
  readonly maxFrame: number;
  /** The data area; handlers get views into it (offsets are relative to it). */
  readonly data: Buffer;

  private readonly mask: number;
  private readonly i32: Int32Array;
  /** Int32 index of data byte 0 in i32. */
  private readonly dataSlot: number;

  // producer-private
  private w: number;
  private rCache: number;
  // consumer-private
  private r: number;
  private wCache: number;
  private scratch: Buffer;

  constructor(sab: SharedArrayBuffer, byteOffset: number, capacity: number) {
    checkCapacity(capacity);
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`ring byteOffset must be a non-negative multiple of 4 (64 recommended), got ${byteOffset}`);
    }
    const total = ringByteLength(capacity);
    if (byteOffset + total > sab.byteLength) {
      throw new RangeError(
        `ring of capacity ${capacity} needs ${total} bytes at offset ${byteOffset}, buffer has ${sab.byteLength}`,
      );
    }
    this.capacity = capacity;
    this.maxFrame = capacity - FRAME_HEADER_BYTES;
    this.mask = capacity - 1;
    this.i32 = new Int32Array(sab, byteOffset, total >> 2);
    this.data = Buffer.from(sab, byteOffset + HEADER_BYTES, capacity);
    this.dataSlot = HEADER_BYTES >> 2;

    // Either side may construct first; compareExchange makes set-up race-free and catches a
    // mismatch between what the two sides think the capacity is.
    const prev = Atomics.compareExchange(this.i32, Slot.CAPACITY, 0, capacity);
    if (prev === 0) {
      Atomics.store(this.i32, Slot.MAGIC, RING_MAGIC);
    } else if (prev !== capacity) {
      throw new Error(`ring at offset ${byteOffset} was set up with capacity ${prev}, not ${capacity}`);
    }

    // Indices are read, not assumed 0: a restarted thread re-attaches to a live ring.
    this.w = Atomics.load(this.i32, Slot.WRITE);
    this.r = Atomics.load(this.i32, Slot.READ);
    this.rCache = this.r;
    this.wCache = this.w;
    this.scratch = Buffer.allocUnsafeSlow(0);
  }

  /**
   * Producer: copy one frame in. Returns false when there is no room right now (the caller
   * spills and retries later). Throws RangeError if length > maxFrame or src is too short.
   * `tag` (0..3) travels in the length word at no extra cost; plain users leave it 0.
   */
  write(src: Uint8Array, offset: number, length: number, tag = 0): boolean {
    if (!(length >= 0 && length <= this.maxFrame) || (length | 0) !== length) {
      throw new RangeError(`frame of ${length} bytes does not fit a ring frame (maxFrame ${this.maxFrame})`);
    }
    if (!(offset >= 0) || offset + length > src.length) {
      throw new RangeError(`frame [${offset}, ${offset + length}) is outside the source (${src.length} bytes)`);
    }
    if (tag !== (tag & MAX_TAG)) throw new RangeError(`ring tag must be 0..${MAX_TAG}, got ${tag}`);

    const cap = this.capacity;
    const need = (length + FRAME_HEADER_BYTES + 3) & ~3;
    const w = this.w;
    if (cap - ((w - this.rCache) | 0) < need) {
      this.rCache = Atomics.load(this.i32, Slot.READ);
      if (cap - ((w - this.rCache) | 0) < need) return false;
    }
    const pos = w & this.mask;
    this.i32[this.dataSlot + (pos >> 2)] = length | (tag << TAG_SHIFT);
    // pos is 4-aligned and capacity a multiple of 4, so the length word never wraps; the
    // payload may.
    let d = pos + FRAME_HEADER_BYTES;
    if (d === cap) d = 0;
    const room = cap - d;
    if (length <= room) {
      copyBytes(this.data, d, src, offset, length);
    } else {
      copyBytes(this.data, d, src, offset, room);
      copyBytes(this.data, 0, src, offset + room, length - room);
    }
    const next = (w + need) | 0;
    this.w = next;
    Atomics.store(this.i32, Slot.WRITE, next);
    return true;
  }

  /**
   * Consumer: hand one frame to `handler` and release it. Returns false if the ring is empty.
   * A contiguous frame is a view into `data`; a wrapped one is copied into a scratch buffer
   * owned by the ring. Either way the bytes are only valid during the call. The frame is
   * released when the handler returns or throws (a throwing handler does not wedge the ring).
   * The handler must not call read/drain on the same ring.
   */
  read(handler: TaggedFrameHandler): boolean {
    const r = this.r;
    if (r === this.wCache) {
      this.wCache = Atomics.load(this.i32, Slot.WRITE);
      if (r === this.wCache) return false;
    }
    const cap = this.capacity;
    const pos = r & this.mask;
    const word = this.i32[this.dataSlot + (pos >> 2)]!;
    const length = word & LENGTH_MASK;
    if (length > this.maxFrame) {
      throw new Error(`ring corrupted: frame length ${length} at index ${r} exceeds maxFrame ${this.maxFrame}`);
    }
    const tag = word >>> TAG_SHIFT;
    let d = pos + FRAME_HEADER_BYTES;
    if (d === cap) d = 0;
    const next = (r + ((length + FRAME_HEADER_BYTES + 3) & ~3)) | 0;
    try {
      const room = cap - d;
      if (length <= room) {
        handler(this.data, d, length, tag);
      } else {
        const scratch = this.scratchFor(length);
        copyBytes(scratch, 0, this.data, d, room);
        copyBytes(scratch, room, this.data, 0, length - room);
        handler(scratch, 0, length, tag);
      }
    } finally {
      this.r = next;
      Atomics.store(this.i32, Slot.READ, next);
    }
    return true;
  }

  /** Consumer: read up to `budget` frames; returns how many were handled. */
  drain(budget: number, handler: TaggedFrameHandler): number {
    let n = 0;
    while (n < budget && this.read(handler)) n++;
    return n;
  }

  /**
   * Consumer: the producer's write index now. Every record before it is complete and may be
   * read; a reader that must not run ahead of something it checked first (pair.ts: the data
   * ring after the control ring) takes the fence before that check and reads only up to it.
   */
  fence(): number {
    this.wCache = Atomics.load(this.i32, Slot.WRITE);
    return this.wCache;
  }

  /** Consumer: the read index (everything before it has been handed over). */
  get readIndex(): number {
    return this.r;
  }

  /**
   * Consumer: the next record's first four payload bytes as a little-endian u32, without
   * consuming it; -1 when the ring is empty or the record has fewer than four bytes. The
   * payload starts 4-aligned, so those bytes never wrap.
   */
  peekU32(): number {
    const r = this.r;
    if (r === this.wCache) {
      this.wCache = Atomics.load(this.i32, Slot.WRITE);
      if (r === this.wCache) return -1;
    }
    const pos = r & this.mask;
    if ((this.i32[this.dataSlot + (pos >> 2)]! & LENGTH_MASK) < 4) return -1;
    let d = pos + FRAME_HEADER_BYTES;
    if (d === this.capacity) d = 0;
    const b = this.data;
    return (b[d]! | (b[d + 1]! << 8) | (b[d + 2]! << 16) | (b[d + 3]! << 24)) >>> 0;
  }

  isEmpty(): boolean {
    return Atomics.load(this.i32, Slot.WRITE) === Atomics.load(this.i32, Slot.READ);
  }

  /** Bytes in flight (records incl. length words and padding); a snapshot from either side. */
  usedBytes(): number {
    return (Atomics.load(this.i32, Slot.WRITE) - Atomics.load(this.i32, Slot.READ)) | 0;
  }

  /** Free bytes as the producer would see them now. */
  freeBytes(): number {
    return this.capacity - this.usedBytes();
  }

  private scratchFor(length: number): Buffer {
    if (this.scratch.length < length) {
      // Grow in powers of two up to capacity so a run of wrapped frames settles quickly.
      let size = Math.max(64, this.scratch.length);
      while (size < length) size *= 2;
      this.scratch = Buffer.allocUnsafeSlow(Math.min(size, this.capacity));
    }
    return this.scratch;
  }
}

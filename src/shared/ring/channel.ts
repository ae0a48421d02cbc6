// Logical frames over one SpscRing: never block, never drop, any size.
//
// Framing. Every ring record carries a 2-bit tag in the top bits of its 4-byte length word
// (layout.ts), so the fragment header costs 0 extra bytes, for fragmented and unfragmented
// frames alike:
//   WHOLE  (0)  an unfragmented frame: length <= ring.maxFrame. Delivered zero-copy when the
//               record does not wrap.
//   FIRST  (1)  first fragment of a frame longer than ring.maxFrame,
//   MIDDLE (2)  any number of middle fragments,
//   LAST   (3)  the last fragment; the receiver then delivers the reassembled frame.
// Fragments are at most `fragmentSize` bytes (default a quarter of the ring), so a big frame
// streams through while the consumer drains instead of waiting for an empty ring. There is
// exactly one producer per ring, so fragments of two frames never interleave; a record that
// breaks the FIRST, MIDDLE*, LAST grammar means a bug and the receiver throws.
//
// Backpressure. send() writes straight into the ring when it can. When the ring is full, or
// frames are already waiting (FIFO order must hold), the frame is copied into a local spill
// queue and counted; flush() moves spilled frames into the ring as the consumer frees space.
// The owner calls flush() on every wake/timer. Frames that reached the ring set `dirty`; the
// owner rings the consumer's doorbell once per batch (commit() does that when the sender was
// given the doorbell).

import type { Doorbell } from './doorbell.ts';
import type { SpscRing } from './spsc.ts';
import { copyBytes } from './copy.ts';
import { SpillQueue } from './spill.ts';

export const TAG_WHOLE = 0;
export const TAG_FIRST = 1;
export const TAG_MIDDLE = 2;
export const TAG_LAST = 3;

export type LogicalFrameHandler = (buf: Uint8Array, offset: number, length: number) => void;

export interface RingSenderOptions {
  /** Doorbell of the consuming thread, used by commit(). */
  doorbell?: Doorbell;
  /** Payload bytes per fragment, 1..ring.maxFrame. Default: capacity/4 - 4 (or maxFrame for tiny rings). */
  fragmentSize?: number;
}

export class RingSender {
  readonly ring: SpscRing;
  readonly doorbell: Doorbell | undefined;
  readonly fragmentSize: number;

  /** True once a record reached the ring since the doorbell was last rung. Clear it when you ring. */
  dirty = false;
  /** Frames that had to go through the spill queue, since creation. */
  spilledTotal = 0;
  /** Payload bytes copied into the spill queue, since creation. */
  spilledBytesTotal = 0;

  // The head of the spill queue may be partly sent (a fragmented frame): `headPos` bytes of
  // it are in the ring already, and `headStarted` says whether its FIRST fragment is.
  private readonly queue = new SpillQueue();
  private headPos = 0;
  private headStarted = false;

  constructor(ring: SpscRing, options: RingSenderOptions = {}) {
    this.ring = ring;
    this.doorbell = options.doorbell;
    const frag = options.fragmentSize ?? (ring.capacity >= 1024 ? ring.capacity / 4 - 4 : ring.maxFrame);
    if (!Number.isInteger(frag) || frag < 1 || frag > ring.maxFrame) {
      throw new RangeError(`fragmentSize must be an integer in 1..${ring.maxFrame}, got ${frag}`);
    }
    this.fragmentSize = frag;
  }

  /** Frames waiting in the spill queue (a partly sent one included). */
  get pending(): number {
    return this.queue.count;
  }

  /** Payload bytes waiting in the spill queue. */
  get pendingBytes(): number {
    return this.queue.bytes;
  }

  /** Same as spilledTotal. */
  get spilled(): number {
    return this.spilledTotal;
  }

  /**
   * Queue one logical frame. Never blocks, never drops. Returns true if all of it is in the
   * ring now, false if some or all of it was spilled (it will follow via flush()).
   */
  send(src: Uint8Array, offset: number, length: number): boolean {
    if (!(offset >= 0 && length >= 0) || offset + length > src.length) {
      throw new RangeError(`frame [${offset}, ${offset + length}) is outside the source (${src.length} bytes)`);
    }
    if (this.queue.count === 0) {
      const ring = this.ring;
      if (length <= ring.maxFrame) {
        if (ring.write(src, offset, length, TAG_WHOLE)) {
          this.dirty = true;
          return true;
        }
        this.spill(src, offset, length, false);
        return false;
      }
      const sent = this.writeFragments(src, offset, length, false);
      if (sent === length) return true;
      this.spill(src, offset + sent, length - sent, sent > 0);
      return false;
    }
    this.spill(src, offset, length, false);
    return false;
  }

  /**
   * Queue one logical frame behind whatever is spilled, even if the ring has room (pair.ts: a
   * data frame must not reach the reader before a control frame still spilled).
   */
  enqueue(src: Uint8Array, offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0) || offset + length > src.length) {
      throw new RangeError(`frame [${offset}, ${offset + length}) is outside the source (${src.length} bytes)`);
    }
    this.spill(src, offset, length, false);
  }

  /** Move spilled frames (at most `max`) into the ring while it has room. Returns how many completed. */
  flush(max = Infinity): number {
    let moved = 0;
    const ring = this.ring;
    const queue = this.queue;
    while (queue.count > 0 && moved < max) {
      const buf = queue.headBuffer;
      const offset = queue.headOffset;
      const length = queue.headLength;
      if (!this.headStarted && length <= ring.maxFrame) {
        if (!ring.write(buf, offset, length, TAG_WHOLE)) break;
        this.dirty = true;
      } else {
        const pos = this.headPos;
        const sent = this.writeFragments(buf, offset + pos, length - pos, this.headStarted);
        if (sent > 0) this.headStarted = true;
        this.headPos = pos + sent;
        if (this.headPos < length) break;
      }
      queue.shift();
      this.headPos = 0;
      this.headStarted = false;
      moved++;
    }
    return moved;
  }

  /** Ring the doorbell if anything reached the ring since the last commit. Returns whether it rang. */
  commit(): boolean {
    if (!this.dirty) return false;
    this.dirty = false;
    this.doorbell?.ring();
    return true;
  }

  /**
   * Write fragments of src[offset, offset+length) while the ring has room; `started` says
   * whether this frame's FIRST fragment is out already. Returns bytes written.
   */
  private writeFragments(src: Uint8Array, offset: number, length: number, started: boolean): number {
    const ring = this.ring;
    let sent = 0;
    while (sent < length) {
      const chunk = Math.min(this.fragmentSize, length - sent);
      const tag = !started && sent === 0 ? TAG_FIRST : sent + chunk === length ? TAG_LAST : TAG_MIDDLE;
      if (!ring.write(src, offset + sent, chunk, tag)) break;
      this.dirty = true;
      sent += chunk;
    }
    return sent;
  }

  private spill(src: Uint8Array, offset: number, length: number, started: boolean): void {
    if (this.queue.count === 0) {
      this.headPos = 0;
      this.headStarted = started;
    }
    this.queue.push(src, offset, length);
    this.spilledTotal++;
    this.spilledBytesTotal += length;
  }
}

export class RingReceiver {
  readonly ring: SpscRing;
  /** Ring records consumed since creation (fragments count one each): it moves whenever
   * drain() freed ring space, even if no whole frame was delivered yet. */
  records = 0;
  /** Whole logical frames delivered since creation, mod 2^32 (pair.ts fences on it). */
  frames = 0;

  private handler: LogicalFrameHandler = noop;
  private delivered = 0;
  /** Bytes reassembled so far, or -1 when not inside a fragmented frame. */
  private assembled = -1;
  private scratch: Buffer = Buffer.allocUnsafeSlow(0);

  // Bound once so drain() allocates no closure per call.
  private readonly onRecord = (buf: Uint8Array, offset: number, length: number, tag: number): void => {
    this.records++;
    if (tag === TAG_WHOLE) {
      if (this.assembled !== -1) this.violation('unfragmented frame inside a fragmented one');
      this.delivered++;
      this.frames = (this.frames + 1) | 0;
      this.handler(buf, offset, length);
      return;
    }
    if (tag === TAG_FIRST) {
      if (this.assembled !== -1) this.violation('FIRST fragment inside a fragmented frame');
      this.assembled = 0;
    } else if (this.assembled === -1) {
      this.violation(`${tag === TAG_LAST ? 'LAST' : 'MIDDLE'} fragment without FIRST`);
    }
    const at = this.assembled;
    const scratch = this.reserve(at + length);
    copyBytes(scratch, at, buf, offset, length);
    this.assembled = at + length;
    if (tag === TAG_LAST) {
      const total = this.assembled;
      this.assembled = -1;
      this.delivered++;
      this.frames = (this.frames + 1) | 0;
      this.handler(scratch, 0, total);
    }
  };

  constructor(ring: SpscRing) {
    this.ring = ring;
  }

  /**
   * Deliver up to `budget` whole logical frames; returns how many. Fragments of a frame in
   * progress are consumed as they arrive even if it cannot complete yet. A reassembled frame
   * is handed over from a scratch buffer that is reused: the bytes are valid during the call.
   */
  drain(budget: number, handler: LogicalFrameHandler): number {
    this.handler = handler;
    this.delivered = 0;
    try {
      while (this.delivered < budget && this.ring.read(this.onRecord)) {
        // onRecord counts deliveries
      }
      return this.delivered;
    } finally {
      this.handler = noop;
    }
  }

  /**
   * Like drain(), but reads no record at or past ring index `until` (a SpscRing.fence() taken
   * earlier). A frame whose last fragment lies past it is completed by a later call.
   */
  drainTo(budget: number, handler: LogicalFrameHandler, until: number): number {
    this.handler = handler;
    this.delivered = 0;
    const ring = this.ring;
    try {
      while (this.delivered < budget && ((until - ring.readIndex) | 0) > 0 && ring.read(this.onRecord)) {
        // onRecord counts deliveries
      }
      return this.delivered;
    } finally {
      this.handler = noop;
    }
  }

  /** True while a fragmented frame is partly received. */
  get reassembling(): boolean {
    return this.assembled !== -1;
  }

  isEmpty(): boolean {
    return this.ring.isEmpty();
  }

  private reserve(size: number): Buffer {
    if (this.scratch.length < size) {
      let cap = Math.max(1024, this.scratch.length * 2);
      while (cap < size) cap *= 2;
      const grown = Buffer.allocUnsafeSlow(cap);
      this.scratch.copy(grown, 0, 0, this.assembled > 0 ? this.assembled : 0);
      this.scratch = grown;
    }
    return this.scratch;
  }

  private violation(what: string): never {
    this.assembled = -1;
    throw new Error(`ring framing violated: ${what}`);
  }
}

function noop(): void {}

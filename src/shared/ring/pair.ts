// The two rings of one shard pair: a data ring and, after it in the same SharedArrayBuffer, a
// control ring (budget.ts sizes it). The reader may stop draining the data ring (it is *held*
// while a subscriber it feeds is behind: worker/peers/peers.ts) and always drains the control
// ring, so a claim, a takeover or a route update never waits behind someone else's socket, and a
// data ring full of PUBLISHes never leaves a control frame without room.
//
// Order. The sender interleaves the two kinds; the reader keeps, as one FIFO would:
//   (1) a control frame is handled after every data frame sent before it, unless the data ring
//       is held: then it passes that held data. Every control frame may (worker/peers/frames.ts
//       AT_ONCE says why for each type): the frames that vouch for data (data barriers'
//       answers, commit barriers, ghost retirement, retained sets) are data-ring frames.
//   (2) a data frame is handled after every control frame sent before it, always (a SESSION,
//       then the DIRECT deliveries for it; a route update, then what was routed by it).
//
// How (1) holds. Each control frame carries `behind`, the count of data frames sent before it
// (spilled ones included: a ring index would miss those), in a u32 before its payload. The reader
// meets it at the control ring's head and, unless the data ring is held, first handles data
// frames until it has handled `behind` of them; if they are not in the ring yet (still in the
// sender's spill queue), the control ring waits there, and so does everything behind it in it.
//
// How (2) holds. The reader takes the data ring's fence (its write index) *before* it drains
// the control ring, then handles data only up to that fence. A data record before the fence was
// written before the fence was read, and every control frame sent before it was written into the
// control ring before that, so the control drain that followed saw it: it was handled, or it is
// the frame the control ring waits at, and then data is handled only up to its `behind`. A
// control frame that had to spill would break this (its data would be written first), so a data
// frame sent after a control frame that is not all in its ring yet queues behind it
// (PairSender.sendData) and is flushed only once that control frame is (PairSender.flush). Data
// sent *before* it still flushes: the control frame may be waiting at the reader for exactly that
// data (rule 1), and holding it back too would wait forever.
//
// test/ring/two-rings-order.test.ts checks each rule in one thread,
// test/ring/two-rings-order-stress.test.ts across two.

import type { Doorbell } from './doorbell.ts';
import { RingReceiver, RingSender, type LogicalFrameHandler } from './channel.ts';
import { SpscRing } from './spsc.ts';
import { controlRingCapacity, controlRingOffset } from './budget.ts';
import { copyBytes } from './copy.ts';

/** Bytes of `behind` before a control frame's payload. */
export const BEHIND_BYTES = 4;
/** Data frames handled between checks of whether the data ring is now held. */
const HELD_STEP = 64;

export class PairSender {
  readonly data: RingSender;
  readonly control: RingSender;
  readonly doorbell: Doorbell | undefined;
  /** Data frames sent so far (spilled included), mod 2^32: the next control frame's `behind`. */
  private dataSent = 0;
  private scratch: Buffer = Buffer.allocUnsafeSlow(256);
  /** `behind` of each control frame in the control spill queue, oldest at `spillHead`. */
  private spilledBehind: number[] = [];
  private spillHead = 0;

  constructor(sab: SharedArrayBuffer, dataCapacity: number, doorbell?: Doorbell) {
    this.data = new RingSender(new SpscRing(sab, 0, dataCapacity));
    this.control = new RingSender(new SpscRing(sab, controlRingOffset(dataCapacity), controlRingCapacity(dataCapacity)));
    this.doorbell = doorbell;
  }

  /** One data frame. Never blocks, never drops; false: spilled (flush() moves it on). */
  sendData(src: Uint8Array, offset: number, length: number): boolean {
    this.dataSent = (this.dataSent + 1) | 0;
    // Rule (2): a control frame still spilled reaches the reader first, so data queues behind it.
    if (this.control.pending > 0) {
      this.data.enqueue(src, offset, length);
      return false;
    }
    return this.data.send(src, offset, length);
  }

  /** One control frame, behind the data sent so far. False: spilled. */
  sendControl(src: Uint8Array, offset: number, length: number): boolean {
    const need = BEHIND_BYTES + length;
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.scratch.length));
    const b = this.scratch;
    this.scratch.writeUInt32LE(this.dataSent >>> 0, 0);
    copyBytes(b, BEHIND_BYTES, src, offset, length);
    if (this.control.send(b, 0, need)) return true;
    this.spilledBehind.push(this.dataSent);
    return false;
  }

  /** Frames waiting in either spill queue. */
  get pending(): number {
    return this.data.pending + this.control.pending;
  }

  /** Frames that had to spill, either ring, since creation. */
  get spilledTotal(): number {
    return this.data.spilledTotal + this.control.spilledTotal;
  }

  /**
   * Move spilled frames on: control first, then the data sent before the oldest control frame
   * still spilled (rule 2; all of it once none is).
   */
  flush(): number {
    const done = this.control.flush();
    let moved = done;
    if (done > 0) {
      this.spillHead += done;
      if (this.spillHead === this.spilledBehind.length) { this.spilledBehind.length = 0; this.spillHead = 0; }
    }
    if (this.data.pending === 0) return moved;
    if (this.control.pending === 0) return moved + this.data.flush();
    // The spilled data frames are the last ones sent: the first of them is number dataSent − pending.
    const first = (this.dataSent - this.data.pending) | 0;
    const allowed = (this.spilledBehind[this.spillHead]! - first) | 0;
    if (allowed > 0) moved += this.data.flush(allowed);
    return moved;
  }

  /** Ring the doorbell once if either ring got a record since the last commit. */
  commit(): boolean {
    if (!this.data.dirty && !this.control.dirty) return false;
    this.data.dirty = false;
    this.control.dirty = false;
    this.doorbell?.ring();
    return true;
  }
}

export class PairReceiver {
  readonly data: RingReceiver;
  readonly control: RingReceiver;
  private readonly onData: LogicalFrameHandler;
  /** The control payload after `behind`, handed to the caller's handler. */
  private readonly onControl: LogicalFrameHandler;

  constructor(sab: SharedArrayBuffer, dataCapacity: number, onData: LogicalFrameHandler, onControl: LogicalFrameHandler) {
    this.data = new RingReceiver(new SpscRing(sab, 0, dataCapacity));
    this.control = new RingReceiver(new SpscRing(sab, controlRingOffset(dataCapacity), controlRingCapacity(dataCapacity)));
    this.onData = onData;
    this.onControl = (buf, off, len) => onControl(buf, off + BEHIND_BYTES, len - BEHIND_BYTES);
  }

  isEmpty(): boolean {
    return this.data.isEmpty() && this.control.isEmpty();
  }

  /**
   * Handle up to `budget` frames of both rings in the order above; returns how many. `held()` is
   * asked between steps: while it says true, no data is handled and control frames pass it.
   * `passAll`: control frames pass data that is not there (a dead sender's lost spill).
   */
  drain(budget: number, held: () => boolean, passAll = false): number {
    const data = this.data;
    const control = this.control;
    let n = 0;
    for (;;) {
      const before = n;
      // Rule (2): taken before the control drain; data is handled only up to it.
      const until = data.ring.fence();
      // Data frames the control ring's head waits for, if it waits; else no limit but the budget.
      let dataLimit = -1;
      while (n < budget) {
        if (!control.reassembling) {
          const behind = control.ring.peekU32();
          if (behind === -1) break;
          // Rule (1): the data sent before it first, unless that data is held (then it passes).
          let short = (behind - data.frames) | 0;
          while (short > 0 && n < budget && !held()) {
            const got = data.drain(Math.min(short, HELD_STEP, budget - n), this.onData);
            n += got;
            short -= got;
            if (got === 0) break;
          }
          if (short > 0 && !held() && !passAll) { dataLimit = short; break; }
          if (n >= budget) break;
        }
        const got = control.drain(1, this.onControl);
        n += got;
        if (got === 0) break; // a fragmented frame not all here yet
      }
      // Rule (2): data up to the fence (and no further than what a waiting control frame is behind).
      while (n < budget && !held()) {
        const step = Math.min(HELD_STEP, budget - n, dataLimit === -1 ? HELD_STEP : dataLimit);
        if (step === 0) break;
        const got = data.drainTo(step, this.onData, until);
        n += got;
        if (dataLimit !== -1) dataLimit -= got;
        if (got < step) break;
      }
      if (n === before || n >= budget) return n;
    }
  }

  /** Everything left, as a dead sender's rings are finished before fresh ones replace them. */
  finish(): void {
    const never = (): boolean => false;
    while (this.drain(4096, never) > 0) { /* until nothing moves */ }
    while (this.drain(4096, never, true) > 0) { /* control frames whose data never came */ }
  }
}

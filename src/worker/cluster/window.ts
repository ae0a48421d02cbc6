// The unconfirmed window (docs/cluster.md, "NATS lost"): QoS 1/2 frames a shard handed to nats.js
// for another node and that no commit answer has covered yet. When NATS goes, nats.js discards
// what it had not written, and the dead server drops what it had read but not delivered; the
// acks of those frames fail, but a QoS 2 resend is answered from the packet id without being
// routed again, so without a copy of its frame that message would never reach the other node.
// The shard moves the window into the hold (hold.ts) when it sees NATS go, and the receiving
// shard drops what it already routed (link.ts, the RESENT flag and the sender's sequence number).
//
// Per target slot, frames in the order they went out, numbered by a running count; a commit
// request notes the count at its moment and its answer drops what came before. Bounded by
// --cluster-hold-bytes (a frame past it is not kept: the caller fails its turn's acks as lost).

interface SlotWindow {
  frames: Buffer[];
  /** The running count of frames[0]. */
  start: number;
}

export class Unconfirmed {
  private readonly slots: (SlotWindow | undefined)[] = [];
  private readonly limit: number;
  bytes = 0;
  /** Bumped when the windows are taken (NATS went): an answer to an older request trims nothing. */
  epoch = 0;

  constructor(limitBytes: number) { this.limit = limitBytes; }

  /** `frame` went out to `slot`; false when it does not fit (not kept). */
  sent(slot: number, frame: Buffer): boolean {
    if (this.bytes + frame.length > this.limit) return false;
    const w = this.slots[slot] ??= { frames: [], start: 0 };
    w.frames.push(frame);
    this.bytes += frame.length;
    return true;
  }

  /** The running count of `slot`'s frames so far: what a commit request sent now covers. */
  mark(slot: number): number {
    const w = this.slots[slot];
    return w === undefined ? 0 : w.start + w.frames.length;
  }

  /** The node committed `slot`'s frames before `end` (a mark taken in `epoch`): they go. */
  confirmed(slot: number, end: number, epoch: number): void {
    const w = this.slots[slot];
    if (w === undefined || epoch !== this.epoch) return;
    const n = Math.min(end - w.start, w.frames.length);
    if (n <= 0) return;
    for (const f of w.frames.splice(0, n)) this.bytes -= f.length;
    w.start += n;
  }

  /** Every slot's window, emptied (NATS went: the caller holds them to send again). */
  take(each: (slot: number, frames: Buffer[]) => void): void {
    this.epoch++;
    for (let i = 0; i < this.slots.length; i++) {
      const w = this.slots[i];
      if (w === undefined || w.frames.length === 0) continue;
      const frames = w.frames;
      w.start += frames.length;
      w.frames = [];
      each(i, frames);
    }
    this.bytes = 0;
  }

  /** `slot`'s node is down: nothing of it is sent again. */
  drop(slot: number): void {
    const w = this.slots[slot];
    if (w === undefined) return;
    for (const f of w.frames) this.bytes -= f.length;
    w.start += w.frames.length;
    w.frames = [];
  }
}

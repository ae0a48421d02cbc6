// What a shard cut off from NATS keeps for other nodes (docs/cluster.md, "NATS lost"). nats.js
// discards what it buffered at every reconnect attempt, so a frame handed to it while NATS is
// away is lost; the acks of QoS 1/2 messages other nodes want would then fail every
// --cluster-timeout and the publishers' resends crawl. Instead the frames wait here, per target
// node and in their order, with the acks that depend on them; once NATS is back they are sent
// again in that order and one NODE_COMMIT answer settles every ack that waited before it.
//
// Bounds: an ack waits at most --cluster-hold ms (then it fails, the frames stay and go out
// later: a QoS 2 resend is answered without routing it again, so its frame must still arrive);
// the frames of a shard take at most --cluster-hold-bytes (a frame past it is refused: its
// QoS 1/2 turn is not acknowledged, QoS 0 is dropped and counted). No NATS, no timers, no
// promises beyond the acks': link.ts does the sending, this file only keeps order and bounds.

/** One turn's acks that wait for a node's commit (settled once, by a commit answer or a bound). */
interface Waiter { at: number; resolve: () => void; reject: (e: Error) => void; promise: Promise<void> }

/** What one target node has waiting. */
interface SlotHold {
  /** Frames in the order the shard routed them. */
  frames: Buffer[];
  waiters: Waiter[];
  /** frames[0, sent) went out in the current attempt (reset when it must be sent again). */
  sent: number;
  /** A commit request for frames[0, asked.frames) and waiters[0, asked.waiters) is out. */
  asked: { frames: number; waiters: number } | null;
  /** This turn's waiter: every frame of a turn shares one. */
  open: Waiter | null;
  /**
   * The node's shard answered a request since NATS came back, so it listens: frames sent now
   * reach it. Before that a resend could be dropped (no subscriber yet) while the commit request
   * after it, a moment later, found the new subscription and was answered: acks for frames lost.
   */
  reached: boolean;
  /** The request out is that reachability check (nothing covered). */
  checking: boolean;
  /** Names the request out: an answer to an older one (sent before NATS went away again) settles nothing. */
  token: number;
}

export interface HoldLimits { ms: number; bytes: number }

/** Bytes and frames held (for the shard's gauges), passed on every change. */
export type HoldGauge = (bytes: number, frames: number) => void;

export class Hold {
  private readonly limits: HoldLimits;
  private readonly gauge: HoldGauge;
  private readonly slots: (SlotHold | undefined)[] = [];
  /** Slots with something held, so that empty ones cost nothing. */
  private readonly busy = new Set<number>();
  bytes = 0;
  frames = 0;
  private closeScheduled = false;
  private readonly closeTurn = (): void => {
    this.closeScheduled = false;
    for (const i of this.busy) this.slots[i]!.open = null;
  };

  constructor(limits: HoldLimits, gauge: HoldGauge = () => {}) {
    this.limits = limits;
    this.gauge = gauge;
  }

  get empty(): boolean { return this.busy.size === 0; }

  /**
   * A frame for `slot` must be held behind what is: something is held and not yet sent to a
   * node known to listen. Once all of it is out after the reachability check, later frames go
   * straight out behind it on the same connection (their order holds) with the usual commit
   * request, and the hold only waits for its answer: steady traffic does not keep a node held.
   */
  queues(slot: number): boolean {
    if (!this.busy.has(slot)) return false;
    const h = this.slots[slot]!;
    return !(h.reached && h.sent === h.frames.length);
  }

  /** Something for `slot` is held (sent or not). */
  has(slot: number): boolean { return this.busy.has(slot); }

  /** The slots with something held, in no particular order. */
  held(): Iterable<number> { return this.busy; }

  /** Holds `frame` for `slot`; false past --cluster-hold-bytes (not held). */
  add(slot: number, frame: Buffer): boolean {
    if (this.bytes + frame.length > this.limits.bytes) return false;
    const h = this.slot(slot);
    h.frames.push(frame);
    this.bytes += frame.length;
    this.frames++;
    this.gauge(this.bytes, this.frames);
    return true;
  }

  /** The promise the acks of this turn await for `slot` (one per slot and turn). */
  wait(slot: number, now: number): Promise<void> {
    const h = this.slot(slot);
    if (h.open !== null) return h.open.promise;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    // A turn whose ack never reaches the gate (its publisher went) must not leave a rejection unhandled.
    promise.catch(() => {});
    const w: Waiter = { at: now, resolve, reject, promise };
    h.waiters.push(w);
    h.open = w;
    if (!this.closeScheduled) { this.closeScheduled = true; queueMicrotask(this.closeTurn); }
    return promise;
  }

  /** Fails the acks that waited longer than --cluster-hold (their frames stay); how many. */
  expire(now: number): number {
    let n = 0;
    const limit = now - this.limits.ms;
    for (const i of this.busy) {
      const h = this.slots[i]!;
      let k = 0;
      while (k < h.waiters.length && h.waiters[k]!.at <= limit) k++;
      if (k === 0) continue;
      for (const w of h.waiters.splice(0, k)) w.reject(new Error(`held longer than --cluster-hold (${this.limits.ms} ms) while cut off from NATS`));
      if (h.open !== null && !h.waiters.includes(h.open)) h.open = null;
      if (h.asked !== null) h.asked.waiters = Math.max(0, h.asked.waiters - k);
      n += k;
      this.tidy(i);
    }
    return n;
  }

  /**
   * The frames of `slot` not yet sent in this attempt, marked sent, and the commit request that
   * covers them and every waiter so far; null while one is out or nothing waits.
   */
  ask(slot: number): { frames: Buffer[]; check: boolean; token: number } | null {
    const h = this.slots[slot];
    if (h === undefined || h.asked !== null || !this.busy.has(slot)) return null;
    const token = ++h.token;
    if (!h.reached) {
      h.checking = true;
      h.asked = { frames: 0, waiters: 0 };
      return { frames: [], check: true, token };
    }
    const frames = h.frames.slice(h.sent);
    h.sent = h.frames.length;
    h.asked = { frames: h.frames.length, waiters: h.waiters.length };
    return { frames, check: false, token };
  }

  /** The answer to a reachability check (ask): the node listens; true when that was one (ask again now). */
  answered(slot: number, token: number): boolean {
    const h = this.slots[slot];
    if (h === undefined || !h.checking || h.token !== token) return false;
    h.checking = false;
    h.reached = true;
    h.asked = null;
    return true;
  }

  /** The node committed what the request covered: those frames go, their acks go out. */
  committed(slot: number, token: number): void {
    const h = this.slots[slot];
    if (h === undefined || h.asked === null || h.token !== token) return;
    const { frames, waiters } = h.asked;
    h.asked = null;
    this.forget(h, frames);
    for (const w of h.waiters.splice(0, waiters)) w.resolve();
    if (h.open !== null && !h.waiters.includes(h.open)) h.open = null;
    this.tidy(slot);
  }

  /** The node could not commit, or did not answer in time: as when connected, the covered acks fail. */
  failed(slot: number, err: Error, token: number): void {
    const h = this.slots[slot];
    if (h === undefined || h.asked === null || h.token !== token) return;
    const { frames, waiters } = h.asked;
    h.asked = null;
    this.forget(h, frames);
    for (const w of h.waiters.splice(0, waiters)) w.reject(err);
    if (h.open !== null && !h.waiters.includes(h.open)) h.open = null;
    this.tidy(slot);
  }

  /** Nobody listened (the node's shard has not resubscribed yet): its frames were dropped too; all is sent again. */
  again(slot: number, token?: number): void {
    const h = this.slots[slot];
    if (h === undefined || (token !== undefined && h.token !== token)) return;
    h.asked = null;
    h.checking = false;
    h.reached = false;
    h.sent = 0;
  }

  /** NATS went away again mid-attempt: what was sent since may be lost, so all of it goes again. */
  restart(): void {
    for (const i of this.busy) { this.again(i); this.slots[i]!.token++; }
  }

  /** The node is down (or gone): nothing waits for it any more; its acks fail, its frames go. */
  drop(slot: number, err: Error): void {
    const h = this.slots[slot];
    if (h === undefined || !this.busy.has(slot)) return;
    this.forget(h, h.frames.length);
    for (const w of h.waiters.splice(0)) w.reject(err);
    h.asked = null;
    h.checking = false;
    h.open = null;
    this.tidy(slot);
  }

  private slot(i: number): SlotHold {
    let h = this.slots[i];
    if (h === undefined) h = this.slots[i] = { frames: [], waiters: [], sent: 0, asked: null, open: null, reached: false, checking: false, token: 0 };
    this.busy.add(i);
    return h;
  }

  private forget(h: SlotHold, n: number): void {
    if (n === 0) return;
    for (const f of h.frames.splice(0, n)) this.bytes -= f.length;
    this.frames -= n;
    h.sent = Math.max(0, h.sent - n);
    this.gauge(this.bytes, this.frames);
  }

  private tidy(i: number): void {
    const h = this.slots[i]!;
    if (h.frames.length === 0 && h.waiters.length === 0 && h.asked === null) { this.busy.delete(i); h.sent = 0; h.open = null; h.reached = false; }
  }
}

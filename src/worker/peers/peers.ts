// The peers room: this shard's ends of the rings to the other shards (peers.ts: one reused
// writer, a doorbell rung once per turn, barriers), the frame numbers and the barrier frames
// (frames.ts), and the table from frame type to decoder and receiving part (dispatch.ts).
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { AT_ONCE, FrameType, writeBarrier, writeHold } from './frames.ts';
import { Doorbell, RingReceiver, RingSender, SpscRing, pairRingCapacity } from '../../shared/ring/index.ts';
import { copyBytes } from '../../shared/ring/copy.ts';
import { PairStat, Stat } from '../../shared/stats.ts';
import type { PeerRings } from '../../shared/control.ts';
import type { ShardContext } from '../context.ts';
import type { Backpressure, Source } from '../net/backpressure.ts';


const DRAIN_BUDGET = 4096;
const EMPTY = new Uint8Array(0);
/** Frames drained between checks of whether a congested subscriber now holds the ring back. */
const DRAIN_STEP = 64;

/**
 * A peer's ring as a source of messages (backpressure.ts): while a subscriber it wrote to is
 * congested, the ring is *held*. It never waits for a spill (`spillWaiting` stays true):
 * two shards each waiting for a spill into the other's ring would wait forever.
 *
 * A held ring is still drained, so that control work never waits for someone else's socket
 * (a CONNECT's takeover, route updates, answers: frames.ts AT_ONCE): those frames are handled
 * as they come; the others (the data, and the barriers that vouch for it) are copied in order
 * into `parked`, handled once the ring goes on, before anything newer from the ring. The peer
 * is told (HOLD), so that its publishers wait for us as if the ring were full: what is parked
 * is then what was already on its way, bounded by `parkMax` bytes; past that (a peer that writes
 * on regardless) the ring is simply not drained until it goes on, as before.
 */
class RingSource implements Source {
  pausedBy = 0;
  spillWaiting = true;
  /** Frames held back, in ring order (copies), from `head` on. */
  parked: Uint8Array[] = [];
  head = 0;
  parkedBytes = 0;
  /** The peer was told HOLD (and not yet RESUME). */
  holdSent = false;
  private readonly wake: () => void;
  constructor(wake: () => void) { this.wake = wake; }
  unpause(): void {
    if (this.pausedBy > 0 && --this.pausedBy === 0) this.wake();
  }
  park(buf: Uint8Array, off: number, len: number): void {
    // A copy: `buf` is the ring's own memory (a Buffer, whose slice() is a view), which the
    // peer writes over as soon as this drain frees it. Views here replayed other frames' bytes
    // later: messages lost uncounted and "unknown frame type" logged (test/regress/held-ring-
    // parked-frames-overwritten).
    const copy = new Uint8Array(len);
    copyBytes(copy, 0, buf, off, len);
    this.parked.push(copy);
    this.parkedBytes += len;
  }
  get hasParked(): boolean { return this.head < this.parked.length; }
}

/** What the parts of a shard use to talk to the other shards (Peers; a fake in unit tests). */
export interface PeerLink {
  /** The writer for the next frame (reset). */
  writer(): ByteWriter;
  /** Sends the frame in the writer to `peer`. */
  commit(peer: number): void;
  /** Sends the frame still in the writer to one more peer. */
  resend(peer: number): void;
  /** Sends the frame in the writer to every other shard. */
  broadcast(): void;
  /**
   * Calls `done` once every peer has handled every control frame sent to it so far (route
   * updates); with `data`, once this shard has also handled every frame each peer sent it
   * before answering (the data, which a held ring makes wait: peers.ts).
   */
  barrier(done: () => void, timeoutMs?: number, data?: boolean): void;
}

/**
 * This shard's ends of the rings: one sender per other shard, one receiver per other shard, and
 * its own doorbell. Frames are encoded into one reused writer and copied into the ring; the
 * doorbells of the shards written to are rung once per event-loop turn, not per frame.
 */
export class Peers implements PeerLink {
  private readonly shard: ShardContext;
  /** Who is publishing right now (a spill pauses that publisher). */
  private readonly bp: Pick<Backpressure, 'current'>;
  private readonly w = new ByteWriter();
  private readonly r = new ByteReader();
  private readonly senders: (RingSender | null)[];
  private readonly receivers: (RingReceiver | null)[];
  private readonly bells: Doorbell[];
  private readonly own: Doorbell;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly onFrame: (r: ByteReader, from: number) => void;
  private readonly flushFn = (): void => this.flush();
  private barrierToken = 0;
  private readonly barriers = new Map<number, { left: number; done: () => void; timer: NodeJS.Timeout }>();
  /** Publishers paused because a ring they wrote to is full (spilling); resumed when it empties. */
  private ringWaiters: Source[] = [];
  /** One per peer: its ring held back while a subscriber it fed is congested. */
  private readonly sources: RingSource[];
  private wakeScheduled = false;
  private readonly wakeFn = (): void => {
    this.wakeScheduled = false;
    if (this.drain()) this.wake();
  };
  private readonly handlers: ((buf: Uint8Array, off: number, len: number) => void)[] = [];
  /** While a ring is held: AT_ONCE frames handled, the others parked (RingSource). */
  private readonly holdHandlers: ((buf: Uint8Array, off: number, len: number) => void)[] = [];
  /** Bytes a held ring may park (then it is not drained until it goes on). */
  private readonly parkMax: number;
  /** Bit per peer that told us HOLD: data frames to it pause the publisher that writes them. */
  private heldBy = 0;
  /** Per peer: the publishers paused by its HOLD, resumed at its RESUME. */
  private readonly holdWaiters: Source[][];

  /** Bytes of each ring: `--ring-capacity` is a shard's inbound budget, split over its peers (ring/budget.ts). */
  private readonly capacity: number;

  constructor(shard: ShardContext, bp: Pick<Backpressure, 'current'>, bellSab: SharedArrayBuffer, rings: (PeerRings | null)[], ringBudget: number, onFrame: (r: ByteReader, from: number) => void) {
    this.shard = shard;
    this.capacity = pairRingCapacity(ringBudget, shard.count);
    this.bp = bp;
    this.onFrame = onFrame;
    this.bells = Array.from({ length: shard.count }, (_, i) => new Doorbell(bellSab, i * Doorbell.byteLength));
    this.own = this.bells[shard.id]!;
    this.senders = new Array(shard.count).fill(null);
    this.receivers = new Array(shard.count).fill(null);
    this.sources = Array.from({ length: shard.count }, () => new RingSource(() => this.wake()));
    this.holdWaiters = Array.from({ length: shard.count }, () => []);
    // What is on its way when the peer hears HOLD: at most a ring's worth, and the spills of its
    // publishers' current reads (each waits for its spill to be in the ring).
    this.parkMax = 2 * this.capacity;
    for (let i = 0; i < shard.count; i++) {
      const pr = rings[i];
      if (pr) this.install(i, pr);
    }
  }

  private install(peer: number, pr: PeerRings): void {
    this.senders[peer] = new RingSender(new SpscRing(pr.out, 0, this.capacity), { doorbell: this.bells[peer]! });
    this.receivers[peer] = new RingReceiver(new SpscRing(pr.in, 0, this.capacity));
  }

  start(): void {
    this.own.listen(() => this.drain());
  }

  stop(): void { this.own.stop(); if (this.retryTimer) clearTimeout(this.retryTimer); }

  /** A restarted peer gets fresh rings: finish what the old incarnation wrote, then switch. */
  replace(peer: number, pr: PeerRings): void {
    const old = this.receivers[peer];
    const src = this.sources[peer]!;
    // What the old incarnation sent is handled in its order (parked first); the new one knows of no HOLD.
    while (src.hasParked) { const f = src.parked[src.head++]!; this.handle(f, 0, f.length, peer); }
    src.parked = []; src.head = 0; src.parkedBytes = 0; src.holdSent = false;
    if (old) {
      const handler = (buf: Uint8Array, off: number, len: number): void => this.handle(buf, off, len, peer);
      while (old.drain(DRAIN_BUDGET, handler) > 0) { /* until empty */ }
    }
    this.onHold(peer, false);
    this.install(peer, pr);
    this.drain();
  }

  /** The writer for the next frame (reset). The encoded frame stays in it until the next call. */
  writer(): ByteWriter { return this.w.reset(); }

  /** Sends the frame in the writer to `peer`. Never blocks and never drops: a full ring spills. */
  commit(peer: number): void {
    const s = this.senders[peer];
    if (s === null || s === undefined) return;
    const before = s.spilledTotal;
    s.send(this.w.buf, 0, this.w.pos);
    if (s.spilledTotal !== before) {
      this.shard.stats.add(this.shard.id, Stat.RING_SPILLED, 1);
      this.shard.stats.addPair(this.shard.id, peer, PairStat.RING_SPILLED, 1);
      // The peer is not keeping up: the publisher that caused this waits until the spill is in the ring.
      const src = this.bp.current;
      if (src !== null && !src.spillWaiting) { src.spillWaiting = true; src.pausedBy++; this.ringWaiters.push(src); }
    } else if (this.heldBy !== 0 && (this.heldBy & (1 << peer)) !== 0) {
      // The peer holds our ring for a subscriber that is behind: a publisher waits, as for a full ring.
      const t = this.w.buf[0];
      const src = this.bp.current;
      if ((t === FrameType.PUBLISH || t === FrameType.DIRECT) && src !== null && !src.spillWaiting) {
        src.spillWaiting = true; src.pausedBy++; this.holdWaiters[peer]!.push(src);
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushFn);
    }
  }

  /** Sends the frame still in the writer to one more peer (encode once per fan-out). */
  resend(peer: number): void { this.commit(peer); }

  /** Sends the frame in the writer to every other shard (encoded once). */
  broadcast(): void {
    const sh = this.shard;
    for (let i = 0; i < sh.count; i++) if (i !== sh.id) this.commit(i);
  }

  /**
   * Calls `done` once every peer has handled everything this shard sent it so far (e.g. the
   * route update of a new subscription, so SUBACK means "visible broker-wide"). A peer that
   * does not answer within `timeoutMs` (restarting) does not hold the caller forever.
   */
  barrier(done: () => void, timeoutMs = 1000, data = false): void {
    const sh = this.shard;
    let left = 0;
    for (let i = 0; i < sh.count; i++) if (i !== sh.id && this.senders[i]) left++;
    if (left === 0) { done(); return; }
    const token = this.barrierToken = (this.barrierToken + 1) >>> 0;
    const timer = setTimeout(() => { if (this.barriers.delete(token)) done(); }, timeoutMs);
    timer.unref();
    this.barriers.set(token, { left, done, timer });
    for (let i = 0; i < sh.count; i++) {
      if (i === sh.id || !this.senders[i]) continue;
      writeBarrier(this.writer(), false, sh.id, token, data);
      this.commit(i);
    }
  }

  /** From a peer: answer a barrier, or count an answer to ours. */
  onBarrier(ack: boolean, from: number, token: number, data: boolean): void {
    if (!ack) { writeBarrier(this.writer(), true, this.shard.id, token, data); this.commit(from); return; }
    const b = this.barriers.get(token);
    if (b === undefined || --b.left > 0) return;
    this.barriers.delete(token);
    clearTimeout(b.timer);
    b.done();
  }

  /** From a peer: it holds (or no longer holds) the ring from this shard. */
  onHold(from: number, held: boolean): void {
    const bit = 1 << from;
    if (held) { this.heldBy |= bit; return; }
    if ((this.heldBy & bit) === 0) return;
    this.heldBy &= ~bit;
    const w = this.holdWaiters[from]!;
    if (w.length === 0) return;
    this.holdWaiters[from] = [];
    for (let i = 0; i < w.length; i++) { w[i]!.spillWaiting = false; w[i]!.unpause(); }
  }

  private flush(): void {
    this.flushScheduled = false;
    let pending = false;
    for (let i = 0; i < this.senders.length; i++) {
      const s = this.senders[i];
      if (!s) continue;
      if (s.pending > 0) { s.flush(); if (s.pending > 0) pending = true; }
      s.commit();
    }
    // A full ring frees as the consumer drains; nobody tells the producer, so poll while spilled.
    if (pending && this.retryTimer === null) {
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.flush(); }, 1);
    }
    if (!pending && this.ringWaiters.length > 0) {
      const w = this.ringWaiters;
      this.ringWaiters = [];
      for (let i = 0; i < w.length; i++) { w[i]!.spillWaiting = false; w[i]!.unpause(); }
    }
  }

  private drain(): boolean {
    let more = false;
    for (let i = 0; i < this.receivers.length; i++) {
      const rx = this.receivers[i];
      if (rx) more = this.drainFrom(i, rx) || more;
    }
    return more;
  }

  /** One peer's ring: what was parked first, then the ring, held or not. True: budget used up. */
  private drainFrom(i: number, rx: RingReceiver): boolean {
    const bp = this.bp;
    const src = this.sources[i]!;
    const h = (this.handlers[i] ??= (buf: Uint8Array, off: number, len: number): void => this.handle(buf, off, len, i));
    let n = 0;
    let got = 0;
    bp.current = src;
    try {
      if (src.pausedBy === 0 && src.hasParked) this.replay(src, i);
      if (src.pausedBy === 0 && !src.hasParked) {
        do { got = rx.drain(DRAIN_STEP, h); n += got; } while (got === DRAIN_STEP && n < DRAIN_BUDGET && src.pausedBy === 0);
      }
      if (src.pausedBy > 0 || src.hasParked) {
        if (!src.holdSent) { src.holdSent = true; writeHold(this.writer(), true); this.commit(i); }
        const hh = (this.holdHandlers[i] ??= (buf: Uint8Array, off: number, len: number): void => {
          if (AT_ONCE[buf[off]!] === 1) this.handle(buf, off, len, i); else src.park(buf, off, len);
        });
        while (n < DRAIN_BUDGET && src.parkedBytes < this.parkMax) {
          got = rx.drain(DRAIN_STEP, hh);
          n += got;
          if (got < DRAIN_STEP) break;
        }
      } else if (src.holdSent) {
        src.holdSent = false;
        writeHold(this.writer(), false);
        this.commit(i);
      }
    } finally {
      bp.current = null;
    }
    return n >= DRAIN_BUDGET;
  }

  /** The ring goes on: its parked frames are handled, in order, until one holds it again. */
  private replay(src: RingSource, from: number): void {
    const p = src.parked;
    let k = src.head;
    while (k < p.length && src.pausedBy === 0) {
      const f = p[k]!;
      p[k++] = EMPTY;
      src.parkedBytes -= f.length;
      this.handle(f, 0, f.length, from);
    }
    if (k < p.length) { src.head = k; return; }
    src.parked = [];
    src.head = 0;
    src.parkedBytes = 0;
  }

  /** A held ring may go on: drain again soon (its doorbell may not ring again for a while). */
  private wake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wakeFn);
  }

  private handle(buf: Uint8Array, off: number, len: number, from: number): void {
    try {
      this.onFrame(this.r.at(buf, off, len), from);
    } catch (err) {
      // A frame we cannot handle is a bug, but it must not take the shard (and its clients) down.
      this.shard.log.error({ err, from }, 'failed to handle a frame from a peer shard');
    }
  }
}

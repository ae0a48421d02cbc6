// The peers room: this shard's ends of the rings to the other shards (peers.ts: one reused
// writer, a doorbell rung once per turn, barriers), the frame numbers and the barrier frames
// (frames.ts), and the table from frame type to decoder and receiving part (dispatch.ts).
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { writeBarrier } from './frames.ts';
import { Doorbell, RingReceiver, RingSender, SpscRing, pairRingCapacity } from '../../shared/ring/index.ts';
import { PairStat, Stat } from '../../shared/stats.ts';
import type { PeerRings } from '../../shared/control.ts';
import type { ShardContext } from '../context.ts';
import type { Backpressure, Source } from '../net/backpressure.ts';


const DRAIN_BUDGET = 4096;
/** Frames drained between checks of whether a congested subscriber now holds the ring back. */
const DRAIN_STEP = 64;

/**
 * A peer's ring as a source of messages (backpressure.ts): while a subscriber it wrote to is
 * congested, the ring is not drained. It never waits for a spill (`spillWaiting` stays true):
 * two shards each waiting for a spill into the other's ring would wait forever.
 */
class RingSource implements Source {
  pausedBy = 0;
  spillWaiting = true;
  private readonly wake: () => void;
  constructor(wake: () => void) { this.wake = wake; }
  unpause(): void {
    if (this.pausedBy > 0 && --this.pausedBy === 0) this.wake();
  }
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
  /** Calls `done` once every peer has handled everything sent to it so far. */
  barrier(done: () => void, timeoutMs?: number): void;
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
    if (old) {
      const handler = (buf: Uint8Array, off: number, len: number): void => this.handle(buf, off, len, peer);
      while (old.drain(DRAIN_BUDGET, handler) > 0) { /* until empty */ }
    }
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
  barrier(done: () => void, timeoutMs = 1000): void {
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
      writeBarrier(this.writer(), false, sh.id, token);
      this.commit(i);
    }
  }

  /** From a peer: answer a barrier, or count an answer to ours. */
  onBarrier(ack: boolean, from: number, token: number): void {
    if (!ack) { writeBarrier(this.writer(), true, this.shard.id, token); this.commit(from); return; }
    const b = this.barriers.get(token);
    if (b === undefined || --b.left > 0) return;
    this.barriers.delete(token);
    clearTimeout(b.timer);
    b.done();
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
    const bp = this.bp;
    for (let i = 0; i < this.receivers.length; i++) {
      const rx = this.receivers[i];
      if (!rx) continue;
      const src = this.sources[i]!;
      if (src.pausedBy > 0) continue; // a congested subscriber holds this peer back: wake() follows
      const h = (this.handlers[i] ??= (buf: Uint8Array, off: number, len: number): void => this.handle(buf, off, len, i));
      bp.current = src;
      let n = 0;
      let got: number;
      try {
        do { got = rx.drain(DRAIN_STEP, h); n += got; } while (got === DRAIN_STEP && n < DRAIN_BUDGET && src.pausedBy === 0);
      } finally {
        bp.current = null;
      }
      if (n >= DRAIN_BUDGET) more = true;
    }
    return more;
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

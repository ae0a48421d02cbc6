// The peers room: this shard's ends of the rings to the other shards (peers.ts: one reused
// writer, a doorbell rung once per turn, barriers), the frame numbers and the barrier frames
// (frames.ts), and the table from frame type to decoder and receiving part (dispatch.ts).
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { AT_ONCE, FrameType, writeBarrier, writeHold } from './frames.ts';
import { Doorbell, PairReceiver, PairSender, pairRingCapacity } from '../../shared/ring/index.ts';
import { PairStat, Stat } from '../../shared/stats.ts';
import type { PeerRings } from '../../shared/control.ts';
import type { ShardContext } from '../context.ts';
import type { Backpressure, Source } from '../net/backpressure.ts';


const DRAIN_BUDGET = 4096;

/**
 * A peer's data ring as a source of messages (backpressure.ts): while a subscriber it wrote to
 * is congested, the ring is *held*: simply not drained until the subscriber catches up. It never
 * waits for a spill (`spillWaiting` stays true): two shards each waiting for a spill into the
 * other's ring would wait forever.
 *
 * Control work never waits for someone else's socket: a CONNECT's takeover, route updates and
 * answers (frames.ts AT_ONCE) travel in the pair's control ring, which is always drained and may
 * pass held data (shared/ring/pair.ts has the order rules). The peer is told (HOLD), so that its
 * publishers wait for us as if the ring were full.
 */
class RingSource implements Source {
  pausedBy = 0;
  spillWaiting = true;
  /** The peer was told HOLD (and not yet RESUME). */
  holdSent = false;
  /** Bound once: the pair receiver asks it between steps. */
  readonly held = (): boolean => this.pausedBy > 0;
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
  /**
   * Calls `done` once every peer has handled every control frame sent to it so far (route
   * updates); with `data`, once this shard has also handled every frame each peer sent it
   * before answering (the data, which a held data ring makes wait: the answer is a data frame).
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
  private readonly senders: (PairSender | null)[];
  private readonly receivers: (PairReceiver | null)[];
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
    for (let i = 0; i < shard.count; i++) {
      const pr = rings[i];
      if (pr) this.install(i, pr);
    }
  }

  private install(peer: number, pr: PeerRings): void {
    this.senders[peer] = new PairSender(pr.out, this.capacity, this.bells[peer]!);
    const h = (buf: Uint8Array, off: number, len: number): void => this.handle(buf, off, len, peer);
    this.receivers[peer] = new PairReceiver(pr.in, this.capacity, h, h);
  }

  start(): void {
    // A lost wake-up would leave peers' frames undrained: the doorbell's watch finds it within
    // a second and drains; the line says it happened (a defect to report, not a state to be in).
    this.own.listen(() => this.drain(), () => this.shard.log.warn({ missed: this.own.missedWakes }, 'ring doorbell: a lost wake-up was recovered by the watch'));
  }

  stop(): void { this.own.stop(); if (this.retryTimer) clearTimeout(this.retryTimer); }

  /** A restarted peer gets fresh rings: finish what the old incarnation wrote, then switch. */
  replace(peer: number, pr: PeerRings): void {
    const old = this.receivers[peer];
    // What the old incarnation sent is handled in its order, held or not; the new one knows of no HOLD.
    this.sources[peer]!.holdSent = false;
    old?.finish();
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
    if (AT_ONCE[this.w.buf[0]!] === 1) s.sendControl(this.w.buf, 0, this.w.pos);
    else s.sendData(this.w.buf, 0, this.w.pos);
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

  /** One peer's rings: control always, data unless held (pair.ts). True: budget used up. */
  private drainFrom(i: number, rx: PairReceiver): boolean {
    const bp = this.bp;
    const src = this.sources[i]!;
    bp.current = src;
    let n = 0;
    try {
      n = rx.drain(DRAIN_BUDGET, src.held);
      if (src.pausedBy > 0) {
        if (!src.holdSent) { src.holdSent = true; writeHold(this.writer(), true); this.commit(i); }
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

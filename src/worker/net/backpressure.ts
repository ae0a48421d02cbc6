import type { Logger } from 'pino';
import type { Connection } from './connection.ts';
import { nextProbationLevel, probationMs } from './probation.ts';

/**
 * Whatever can be made to wait for a congested subscriber: a publishing connection (its socket
 * is not read) or a peer shard's ring (peers.ts: not drained), so a publisher on another shard
 * is held back too, through the ring filling up and its frames spilling.
 */
export interface Source {
  /** How many congested subscribers (or spilled rings) this source waits for. */
  pausedBy: number;
  /** Paused until a spill to a full ring is in the ring (peers.ts). */
  spillWaiting: boolean;
  /** One of them drained, closed or was declared slow. */
  unpause(): void;
}

/**
 * End-to-end flow control for the data path, bounded so that no client holds others back for
 * long. A subscriber is *behind* while its socket is congested (more than socketHighWater
 * buffered) or its session queue holds more than socketHighWater bytes (a QoS 1/2 window that
 * is full). While it is, the *source* of the messages for it waits:
 *
 * - local publisher → subscriber on this shard: after the publisher's current read chunk has
 *   been handled, its socket is paused until every subscriber it wrote to while they were
 *   behind has caught up (`Connection.waiters` / `pausedBy`);
 * - peer ring → subscriber: the ring from that peer is *held* (peers.ts): its data waits, in
 *   order, and the peer is told (HOLD), so that its publishers wait as for a full ring; its
 *   control frames (takeovers, route updates, answers) are still handled at once;
 * - local publisher → full ring to a peer (the peer is not keeping up): the publisher's socket
 *   is paused until the spilled frames are in the ring (`Peers`).
 *
 * So a consumer that keeps up on average loses nothing. Whether it keeps up is judged by rate:
 * every `slowMs` (--slow-client-ms, 100 ms) that a subscriber stays behind, what it drained
 * in that window is compared with a quarter of socketHighWater (RATE_DIVISOR: 2.5 MiB/s with
 * the defaults). Slower than that in two windows in a row, or nothing taken at all since it
 * fell behind (after a quarter window for a congested socket, a whole one for a client behind
 * only by its QoS 1/2 window, whose acks a busy machine delays), it is *slow*: whoever waits
 * for it is released at once and nobody waits for it again until its rate averaged over
 * several windows is above that, or one window went fast (4× for a congested socket, whose
 * kernel buffer empties in bursts; 2× for one behind by its window, which has no such bursts:
 * EWMA_WEIGHT, FAST_FACTOR, WINDOW_FAST_FACTOR), or, past a quarter of its queue bounds, it
 * took at the bound on average since it was judged slow (QUEUE_GUARD_SHARE: a healthy QoS 1
 * client misjudged slow comes back before its queue overflows; slower, it gets one probe,
 * staysSlow), or it has caught up
 * completely. (Asking for several fast windows in a row before waiting for it again was tried:
 * on a loaded machine a healthy reader misjudged slow then stayed unwaited for long enough to
 * overflow its QoS 1 queue.) A client judged slow again soon after it was waited for again is on
 * probation (probation.ts): its slow period ends by rate or catching up no sooner than a time
 * that doubles with each such judgement, so a reader near the bound does not swing between the
 * two once per burst; the queue guard is not on probation. A slow client's
 * socket takes up to `maxBacklog` bytes; past that its QoS 0 goes to the session queue bounded
 * by `maxQueuedQos0` (then new QoS 0 is dropped, counted) and QoS 1/2 to the session queue up to
 * `maxQueuedMessages` / `maxQueuedBytes` (then dropped, counted). So a client that stops
 * reading, or reads slower than that rate, holds any source back at most about one or two
 * windows the first time it falls behind; one that reads at speed is waited for while it
 * catches up.
 * docs/performance.md, "Flow control".
 */
/**
 * The rate below which a client is slow: socketHighWater / RATE_DIVISOR per slowMs (256 KiB
 * per 100 ms, 2.5 MiB/s, with the defaults). Not a whole socket per window: a healthy QoS 1
 * subscriber is limited by its window (100 in flight) and its round trip, which on a busy
 * machine is tens of ms; misjudged slow, it is not waited for and its queue can overflow.
 */
const RATE_DIVISOR = 4;

/**
 * A slow client is waited for again once its drain rate, averaged over windows with this
 * weight for the newest (about the last 8), is above the bound, not after one fast window: a
 * reader slower than the bound empties its kernel's buffer in bursts, and one burst made a
 * window look fast (publishers then waited for it up to two windows more, again and again). A
 * healthy reader misjudged slow (a busy machine did not schedule it) drains many times the
 * bound once it runs, so its average crosses within a window or two.
 */
const EWMA_WEIGHT = 1 / 8;
/** ... or once one window went at this many times the bound (a healthy reader that runs again). */
const FAST_FACTOR = 4;
/**
 * The same for a client behind by its QoS 1/2 window only (socket not congested): what it
 * drains is what it acknowledged, a window at a time, so no kernel buffer empties into one
 * window to make it look fast; a lower factor brings a healthy one misjudged slow back
 * sooner, while its publisher runs free and its queue fills.
 */
const WINDOW_FAST_FACTOR = 2;

/**
 * Past this share of its queue bounds, a client slow by its QoS 1/2 window is judged on what it
 * took since it was judged slow, not on its last windows: slower than the bound on that
 * horizon, it is slow and loses at its bound (the spec's answer); faster, it was misjudged
 * (a busy machine, a cold start) and is waited for again before its queue overflows.
 */
const QUEUE_GUARD_SHARE = 4;

/**
 * A client on probation, behind by its QoS 1/2 window only, whose drain rate averaged over
 * windows is at least this many times the bound is taken back by the usual rules all the same
 * (backpressure.ts onProbation): traced at load 12-21, the healthy QoS 1
 * subscriber of test/regress/healthy-qos1-* misjudged slow averaged 1.3-9x the bound, a reader
 * near it (2,000 msg/s of 1 KiB, 0.8x) swings across 1x. Kept on probation at 1.3x, at load 21,
 * a healthy one was left unwaited for 3.3 s and lost 12,238 messages at its queue bound.
 */
const PROBATION_EXEMPT_FACTOR = 1.25;

/** The session queue bounds (--max-queued-messages, --max-queued-bytes; 0 = none). */
export interface QueueBounds { messages: number; bytes: number }
const NO_BOUNDS: QueueBounds = { messages: 0, bytes: 0 };

export class Backpressure {
  /** The source whose bytes or frames are being handled right now (null otherwise). */
  current: Source | null = null;
  private readonly slowMs: number;
  private readonly maxBacklog: number;
  private readonly highWater: number;
  /** Queue size past which the horizon since the judgement decides (QUEUE_GUARD_SHARE; 0 = never). */
  private readonly guardMessages: number;
  private readonly guardBytes: number;
  /** The slow bound, bytes/ms: socketHighWater / RATE_DIVISOR per slowMs. */
  private readonly bound: number;

  constructor(slowMs: number, maxBacklog: number, highWater: number, queue: QueueBounds = NO_BOUNDS) {
    this.slowMs = slowMs;
    this.maxBacklog = maxBacklog;
    this.highWater = highWater;
    this.guardMessages = Math.floor(queue.messages / QUEUE_GUARD_SHARE);
    this.guardBytes = Math.floor(queue.bytes / QUEUE_GUARD_SHARE);
    this.bound = highWater / (slowMs * RATE_DIVISOR);
  }

  /** Socket congested, or more than a socket's worth queued for its session. */
  isBehind(sub: Connection): boolean {
    return sub.congested || (sub.session !== null && sub.session.queuedBytes >= this.highWater);
  }

  /** `sub` fell behind at `now`: its first rate window starts (unless one runs). */
  behind(sub: Connection, now: number): void {
    if (sub.behindSince !== 0) return;
    sub.behindSince = now;
    sub.drainedAtMark = sub.drained();
  }

  /**
   * A message is about to go to `sub`, which is behind. True: write it (the source now waits
   * for `sub` to catch up). False: do not add to the socket's backlog (QoS 0 then goes to the
   * bounded session queue).
   */
  admit(sub: Connection, now: number): boolean {
    const src = this.current;
    if (sub.behindSince === 0) this.behind(sub, now);
    if (src === null || src === sub || sub.slow) return sub.backlog() < this.maxBacklog;
    if (now - sub.behindSince > this.slowMs && this.judge(sub, now)) {
      this.declareSlow(sub);
      return sub.backlog() < this.maxBacklog;
    }
    if (sub.lastWaiter === src) return true;
    sub.lastWaiter = src;
    const w = (sub.waiters ??= []);
    if (w.indexOf(src) >= 0) return true;
    w.push(src);
    src.pausedBy++;
    sub.holds++;
    if (sub.slowJudged > 0) sub.holdsAfterSlow++;
    if (sub.holdStart === 0) sub.holdStart = now;
    if (sub.slowTimer === null) this.watch(sub);
    return true;
  }

  /**
   * After a drain or a pump of `sub`'s queue. Its window is judged once it is slowMs long, and
   * runs on across short catch-ups: a reader slower than its publishers gets below the mark
   * after every few messages it takes, which must not start a new, always short, window (it
   * would pace them to its rate for good). Below the mark, whoever waits goes on; all caught
   * up (socket drained, nothing queued), the window ends and the client is not slow.
   */
  settle(sub: Connection, now: number): void {
    if (sub.behindSince === 0) return;
    if (now - sub.behindSince > this.slowMs) {
      if (!this.judge(sub, now)) this.takeBack(sub, now);
      else if (!sub.slow) this.declareSlow(sub);
    }
    if (this.isBehind(sub)) return;
    this.release(sub);
    if (sub.session !== null && sub.session.queued !== 0) return;
    // All caught up: the window ends. So does a slow period, unless it is on probation
    // (probation.ts): a reader at about the bound catches up whenever its publisher pauses.
    sub.behindSince = 0;
    if (sub.slow && this.onProbation(sub, now)) return;
    this.takeBack(sub, now);
    sub.slowWindows = 0;
  }

  /**
   * `sub`'s slow period is younger than its probation (probation.ts), and it may be a reader
   * near the bound: one behind by its QoS 1/2 window only that averages PROBATION_EXEMPT_FACTOR
   * x the bound or more is a healthy subscriber that a busy machine got judged slow (it
   * acknowledged nothing for a window because its process was not scheduled), and its queue
   * would fill while nobody waits for it, so it is never kept slow for that. A congested
   * socket has no such queue to lose (what does not fit its backlog is QoS 0, dropped), nor
   * has one that caught up.
   */
  private onProbation(sub: Connection, now: number): boolean {
    return now - sub.slowSince < sub.probationMs && this.nearRate(sub);
  }

  /** Not a queue-holding, window-bound client averaging PROBATION_EXEMPT_FACTOR x the bound or more. */
  private nearRate(sub: Connection): boolean {
    if (sub.congested || sub.session === null || sub.session.queued === 0) return true;
    return sub.drainRate < PROBATION_EXEMPT_FACTOR * this.bound;
  }

  /**
   * A slow period of `sub` ends: it is waited for again. Counted once per period (`returns`),
   * unlike `holdsAfterSlow`, which counts every time a source begins to wait: a client taken
   * back whose queue hovers at the mark makes its publisher wait again after every few acks.
   */
  private takeBack(sub: Connection, now: number): void {
    if (!sub.slow) return;
    sub.slow = false;
    sub.session?.mayTakeAgain();
    sub.returns++;
    sub.returnedAt = now;
  }

  /** `sub` caught up, was declared slow, or closed: whoever waited for it may go on. */
  release(sub: Connection): void {
    if (sub.slowTimer !== null) { clearTimeout(sub.slowTimer); sub.slowTimer = null; }
    if (sub.holdStart !== 0) {
      const held = Date.now() - sub.holdStart;
      if (held > sub.longestHoldMs) sub.longestHoldMs = held;
      sub.holdStart = 0;
    }
    sub.lastWaiter = null;
    const w = sub.waiters;
    if (w === null) return;
    sub.waiters = null;
    for (let i = 0; i < w.length; i++) w[i]!.unpause();
  }

  /**
   * True when `sub` is slow: not yet judged, when it drained less than socketHighWater /
   * RATE_DIVISOR per slowMs in this window (since behindSince) and the one before; judged
   * already, while its drain rate over several windows (`drainRate`, EWMA_WEIGHT) stays below
   * that. A new window begins now.
   */
  private judge(sub: Connection, now: number): boolean {
    const drained = sub.drained();
    const rate = (drained - sub.drainedAtMark) / Math.max(1, now - sub.behindSince);
    sub.behindSince = now;
    sub.drainedAtMark = drained;
    sub.drainRate += (rate - sub.drainRate) * EWMA_WEIGHT;
    const bound = this.bound;
    if (sub.slow) {
      const stay = this.staysSlow(sub, rate, bound, drained, now);
      if (!stay) sub.slowWindows = 0;
      return stay;
    }
    // Two slow windows in a row, so one that a busy machine stretched (a healthy reader not
    // scheduled for 100 ms) does not cost a subscriber its waiting publishers; fast at once.
    sub.slowWindows = rate < bound ? sub.slowWindows + 1 : 0;
    return sub.slowWindows >= 2;
  }

  /**
   * While someone waits for `sub`: every slowMs, judge its rate. Checked every quarter of that:
   * a client that has taken nothing at all since it fell behind (one that stopped reading) is
   * slow then already, so a stalled reader holds a publisher about 25 ms, not 100.
   */
  private watch(sub: Connection): void {
    const t = sub.slowTimer = setTimeout(() => {
      sub.slowTimer = null;
      if (sub.waiters === null) return;
      if (sub.slow || sub.behindSince === 0) { this.release(sub); return; }
      const now = Date.now();
      if (!this.isBehind(sub)) { this.settle(sub, now); return; }
      // Nothing taken at all: a congested socket whose kernel takes nothing has stopped reading
      // (the kernel's buffers hold megabytes); one behind by its QoS 1/2 window only waits for
      // acks, which a healthy client on a busy machine can leave for tens of ms, so it gets
      // a whole window (and comes back sooner: WINDOW_FAST_FACTOR).
      if (sub.drained() === sub.drainedAtMark && (sub.congested || now - sub.behindSince >= this.slowMs)) this.declareSlow(sub);
      else if (now - sub.behindSince < this.slowMs) this.watch(sub);
      else if (this.judge(sub, now)) this.declareSlow(sub);
      else this.watch(sub);
    }, (this.slowMs >> 2) + 1);
    t.unref();
  }

  /**
   * `sub` closed: whoever waited goes on. A client that was ever judged slow leaves one line
   * with what it cost the others: how often it was judged slow and taken back again, how often
   * a source waited for it (after its first judgement too) and the longest such wait, the
   * figures test/regress/stalled-subscribers checks.
   */
  closed(sub: Connection, log: Logger): void {
    this.release(sub);
    if (sub.slowJudged === 0) return;
    const filters = sub.session === null ? [] : [...sub.session.subs.keys()].slice(0, 4);
    log.info({ client: sub.clientId, filters, slowJudged: sub.slowJudged, returns: sub.returns, probes: sub.probes, probationLevel: sub.maxProbationLevel, holds: sub.holds, holdsAfterSlow: sub.holdsAfterSlow, longestHoldMs: sub.longestHoldMs, slowMs: this.slowMs }, 'slow client closed');
  }

  /**
   * `sub`, judged slow, stays slow after a window at `rate`. Its QoS 1/2 window-bound kind
   * near its queue bounds: slower than the bound since it was judged slow, it is waited for
   * once more all the same (a *probe*, once per slow period that began below the guard, and
   * not for one that took nothing at all), since on a starved machine a healthy subscriber
   * nobody waits for is slow because its publisher, running free, takes the CPU: waited
   * for, it drains at speed and is kept; truly slow, it is judged slow again two windows later.
   */
  private staysSlow(sub: Connection, rate: number, bound: number, drained: number, now: number): boolean {
    if (!this.onProbation(sub, now)) {
      if (sub.drainRate >= bound) return false;
      if (sub.congested) return rate < FAST_FACTOR * bound;
      if (rate >= WINDOW_FAST_FACTOR * bound) return false;
    } else if (sub.congested) return true;
    // The queue guard is never on probation: it keeps a misjudged QoS 1/2 client's queue from
    // overflowing. Its probe is, once spent: judged slow again soon after a probe took it back,
    // the client read below the bound while it was waited for, so it gets no other probe until
    // it has gone without a judgement long enough for its probation to fall to none.
    if (!this.nearBound(sub)) return true;
    if (drained - sub.drainedAtSlow >= bound * (now - sub.slowSince)) return false;
    if (sub.slowWindows !== 0 || drained === sub.drainedAtSlow || (sub.probeSpent && sub.probationLevel > 0 && this.nearRate(sub))) return true;
    sub.probes++;
    sub.probeSpent = true;
    return false;
  }

  /** Its queue is past QUEUE_GUARD_SHARE of either bound. */
  private nearBound(sub: Connection): boolean {
    const s = sub.session;
    if (s === null) return false;
    return (this.guardMessages > 0 && s.queued >= this.guardMessages) || (this.guardBytes > 0 && s.queuedBytes >= this.guardBytes);
  }

  private declareSlow(sub: Connection): void {
    if (!sub.slow) {
      const now = Date.now();
      sub.slowJudged++;
      sub.probationLevel = nextProbationLevel(sub.probationLevel, sub.returnedAt, now, this.slowMs);
      sub.probationMs = probationMs(sub.probationLevel, this.slowMs);
      if (sub.probationLevel === 0) sub.probeSpent = false;
      if (sub.probationLevel > sub.maxProbationLevel) sub.maxProbationLevel = sub.probationLevel;
      sub.slowSince = now;
      sub.drainedAtSlow = sub.drained();
      // While slow, slowWindows says whether this period may end in a probe (staysSlow): not
      // when it began past the guard (the probe before it was spent, or the queue was full).
      sub.slowWindows = this.nearBound(sub) ? 1 : 0;
    }
    sub.slow = true;
    this.release(sub);
  }
}

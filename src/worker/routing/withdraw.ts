// Withdrawn routes (issue #12). A subscriber that stopped reading costs its publishers' shards
// every message they write into its shard's ring, and its own shard the reading, matching and
// dropping of each, long after its queue is full: on a shard of its own, most of what it costs.
// So while everyone a shard has on a filter would only drop a message of one QoS class (online
// and judged slow, at its queue bound, not moving, its session with no other subscription, no
// access guard, no No Local, no hook that wants to see drops), the shard withdraws that route
// for that class: its peers do not write such messages into its ring when nothing else there
// wants them, and count the drops in its place from the subscriber counts the withdraw carries.
//
// Per class because a QoS 1 subscriber with a full queue of QoS 1 still queues QoS 0 (and a
// QoS 1/2 message evicts a queued QoS 0 one before it is dropped): "would only drop" depends on
// the message's QoS. A byte-bound queue carries its room: a smaller message that fits still goes.
//
// It ends (the route is sent again) as soon as anything could make one of them take a message:
// its queue shifts, it is taken back from slow, its connection comes or goes, it starts to move,
// a subscription on the filter comes or goes (before that SUBACK: Routing.add sets `announced`).
// A message published meanwhile, on its way to the peer, is skipped and counted as dropped: the
// same as had it come a moment earlier. A peer forgets a withdraw after LEASE_MS unless it is
// renewed (the shard renews it when a message for it still arrives after RENEW_MS), so a trigger
// missed would cost at most that, not a subscriber that never gets messages again. A restarted
// peer learns the withdraws the same way: its first messages for them are dropped here, then renewed.
import type { ByteWriter } from '../../shared/bytes.ts';
import { Stat, WithdrawStat } from '../../shared/stats.ts';
import type { TopicTrie } from '../../shared/topics/trie.ts';
import type { ShardContext } from '../context.ts';
import { ConnState } from '../net/conn-state.ts';
import type { DropWatch, Session } from '../session/session.ts';
import type { Subscription } from '../session/subscription.ts';
import { dropsAtOnce } from './drop-rules.ts';
import { writeWithdraw } from './frames.ts';

/** The QoS classes a route is withdrawn for (bits). */
export const WithdrawClass = { QOS0: 1, QOS12: 2 } as const;

export function withdrawClass(qos: number): number { return qos === 0 ? WithdrawClass.QOS0 : WithdrawClass.QOS12; }

/** A peer forgets a withdraw this long after it was (last) announced. */
export const LEASE_MS = 1000;
/** A withdrawn route whose messages still arrive after this long is announced again. */
const RENEW_MS = LEASE_MS / 2;
/** A filter that could not be withdrawn is looked at again after this long at the earliest. */
const RETRY_MS = 100;
/** A route sent again is not withdrawn again for this long (a slow reader at its bound would flap per ack). */
const HOLDOFF_MS = 20;

/** Another shard's route for one filter, as the route table holds it (Routing.remote). */
export class RemoteRoute {
  readonly shard: number;
  /** WithdrawClass bits; 0 (the usual case): every matching message goes. */
  withdrawn = 0;
  /** Until when each class's withdraw holds (LEASE_MS after it was announced). */
  until0 = 0;
  until12 = 0;
  /** A skipped QoS 0 message: that many QoS 0 drops. */
  drops0 = 0;
  /** A skipped QoS 1/2 message: drops at QoS 0 (subscribers at QoS 0), and at the queue bound. */
  drops12at0 = 0;
  drops12full = 0;
  /** A QoS 1/2 message of at most this many payload + topic bytes fits a queue there: it goes (-1: none does). */
  room = -1;

  constructor(shard: number) { this.shard = shard; }

  apply(cls: number, on: boolean, atQos0: number, full: number, room: number, now: number): void {
    if (!on) { this.withdrawn &= ~cls; return; }
    this.withdrawn |= cls;
    if (cls === WithdrawClass.QOS0) {
      this.until0 = now + LEASE_MS;
      this.drops0 = atQos0;
    } else {
      this.until12 = now + LEASE_MS;
      this.drops12at0 = atQos0;
      this.drops12full = full;
      this.room = room;
    }
  }
}

/**
 * The publishing side of one route-table match: which peers a message need not go to because
 * each route of theirs it matched is withdrawn, and the drops that stand for it there.
 */
export class Skips {
  /** Shards with at least one withdrawn route that skipped the message. */
  mask = 0;
  private cls = 0;
  private size = 0;
  private now = 0;
  private readonly atQos0: Int32Array;
  private readonly full: Int32Array;

  constructor(shards: number) {
    this.atQos0 = new Int32Array(shards);
    this.full = new Int32Array(shards);
  }

  /** Before matching a message of `qos` and `size` payload + topic bytes. */
  begin(qos: number, size: number, now: number): void {
    this.cls = withdrawClass(qos);
    this.size = size;
    this.now = now;
  }

  /** `r` (withdrawn for some class) matched: true when the message need not go to its shard for it. */
  skip(r: RemoteRoute): boolean {
    if ((r.withdrawn & this.cls) === 0) return false;
    const i = r.shard;
    if (this.cls === WithdrawClass.QOS0) {
      if (r.until0 <= this.now) return false;
      this.atQos0[i]! += r.drops0;
    } else {
      if (r.until12 <= this.now || this.size <= r.room) return false;
      this.atQos0[i]! += r.drops12at0;
      this.full[i]! += r.drops12full;
    }
    this.mask |= 1 << i;
    return true;
  }

  /** After the match: the drops of every skipped shard the message does not go to (`sent`) anyway. */
  count(sent: number, sh: ShardContext): void {
    for (let i = 0; i < this.atQos0.length; i++) {
      if ((this.mask & (1 << i)) === 0) continue;
      if ((sent & (1 << i)) === 0) {
        sh.stats.add(sh.id, WithdrawStat.SKIPPED, 1);
        if (this.atQos0[i] !== 0) sh.stats.add(sh.id, Stat.DROPPED_QOS0, this.atQos0[i]!);
        if (this.full[i] !== 0) sh.stats.add(sh.id, Stat.DROPPED_QUEUE_FULL, this.full[i]!);
      }
      this.atQos0[i] = 0;
      this.full[i] = 0;
    }
    this.mask = 0;
  }
}

/** One filter of this shard as withdraws see it: the classes withdrawn, and when to look again. */
interface FilterWithdraw {
  cls: number;
  next0: number;
  next12: number;
}

/** What withdraws ask of the peer links. */
export interface WithdrawPeers {
  writer(): ByteWriter;
  broadcast(): void;
}

/** This shard's side: which of its filters would only drop, told to its peers. */
export class Withdraws implements DropWatch {
  private readonly shard: ShardContext;
  private readonly local: TopicTrie<Subscription>;
  private readonly peers: WithdrawPeers;
  private readonly filters = new Map<string, FilterWithdraw>();
  // What the last evaluate() found.
  private atQos0 = 0;
  private full = 0;
  private room = -1;

  constructor(shard: ShardContext, local: TopicTrie<Subscription>, peers: WithdrawPeers) {
    this.shard = shard;
    this.local = local;
    this.peers = peers;
  }

  /**
   * Delivery: every local subscriber `topic` matched dropped a message of `qos` and `size`
   * payload + topic bytes at once. Each filter it matched is withdrawn for the message's class
   * if everyone on it would drop such a message.
   */
  consider(topic: string, qos: number, size: number): void {
    const sh = this.shard;
    if (sh.count === 1 || sh.hooks.has.onPublishDropped) return;
    const cls = withdrawClass(qos);
    const now = Date.now();
    const subs = this.local.matchValues(topic);
    let last: string | null = null;
    for (let i = 0; i < subs.length; i++) {
      const f = subs[i]!.topicFilter;
      if (f === last) continue;
      last = f;
      let st = this.filters.get(f);
      if (st === undefined) { st = { cls: 0, next0: 0, next12: 0 }; this.filters.set(f, st); }
      if (now < (cls === WithdrawClass.QOS0 ? st.next0 : st.next12)) continue;
      const ok = this.evaluate(f, cls, size);
      const next = now + (ok ? RENEW_MS : RETRY_MS);
      if (cls === WithdrawClass.QOS0) st.next0 = next; else st.next12 = next;
      if (!ok) {
        // Renewing one that no longer holds (a trigger missed): end it now rather than at the lease.
        if ((st.cls & cls) !== 0) this.end(f, st, cls);
        continue;
      }
      this.set(st, st.cls | cls);
      writeWithdraw(this.peers.writer(), sh.id, f, cls, true, this.atQos0, this.full, this.room);
      this.peers.broadcast();
      sh.stats.add(sh.id, WithdrawStat.ANNOUNCED, 1);
      for (const [, sub] of this.local.keysOf(f)) sub.session.dropWatch = this;
    }
  }

  /**
   * Would every subscriber on `f` drop a message of class `cls` and `size` bytes at once (as
   * Delivery.dropsAtOnce)? Leaves the counts a skipped message stands for in atQos0 / full / room.
   */
  private evaluate(f: string, cls: number, size: number): boolean {
    const cfg = this.shard.config;
    let atQos0 = 0;
    let full = 0;
    let room = -1;
    for (const [, sub] of this.local.keysOf(f)) {
      const s = sub.session;
      // One subscription per session: a skipped message is one drop per subscriber. A guard or
      // No Local can make it skip a message rather than drop it. Online and slow only: an
      // offline one's QoS 0 is not a counted drop.
      if (sub.guard !== null || sub.noLocal || s.subs.size !== 1 || s.conn === null || s.conn.state !== ConnState.CONNECTED) return false;
      const qos = cls === WithdrawClass.QOS0 ? 0 : sub.qos;
      if (!dropsAtOnce(s, qos, size, cfg)) return false;
      if (qos === 0) { atQos0++; continue; }
      full++;
      // Full by bytes for this message: a smaller one may still fit.
      if (s.queued < cfg.maxQueuedMessages && cfg.maxQueuedBytes - s.queuedBytes > room) room = cfg.maxQueuedBytes - s.queuedBytes;
    }
    this.atQos0 = atQos0;
    this.full = full;
    this.room = room;
    return atQos0 + full > 0;
  }

  /** Session.mayTakeAgain: `s` may take a message again; every route it is on is sent again. */
  mayTake(s: Session): void {
    for (const sub of s.subs.values()) if (sub.group === null) this.release(sub.topicFilter);
  }

  /**
   * A subscription on `filter` came, or went (`gone`: the filter's last, whose route removal
   * tells the peers). True when its withdraw was ended (the caller makes SUBACK wait for it).
   */
  changed(filter: string, gone: boolean): boolean {
    if (gone) {
      const st = this.filters.get(filter);
      if (st !== undefined) { this.set(st, 0); this.filters.delete(filter); }
      return false;
    }
    return this.release(filter);
  }

  private release(filter: string): boolean {
    const st = this.filters.get(filter);
    if (st === undefined || st.cls === 0) return false;
    this.end(filter, st, st.cls);
    st.next0 = st.next12 = Date.now() + HOLDOFF_MS;
    return true;
  }

  /** Tells the peers `filter` is not withdrawn for `cls` any more. */
  private end(filter: string, st: FilterWithdraw, cls: number): void {
    writeWithdraw(this.peers.writer(), this.shard.id, filter, cls, false, 0, 0, -1);
    this.peers.broadcast();
    this.set(st, st.cls & ~cls);
  }

  /** `st` is withdrawn for `cls` now; the shard's gauge follows. */
  private set(st: FilterWithdraw, cls: number): void {
    const sh = this.shard;
    if (st.cls === 0 && cls !== 0) sh.stats.add(sh.id, WithdrawStat.ROUTES, 1);
    else if (st.cls !== 0 && cls === 0) sh.stats.add(sh.id, WithdrawStat.ROUTES, -1);
    st.cls = cls;
  }
}

// The durable room: what the store keeps of the data path and when an acknowledgement may go.
// durability.ts (writes and the commit gate, below), gate.ts (the one send-or-wait decision),
// upkeep.ts (size poll, expiry sweep), persist.ts and session-codec.ts (stored and handed-over
// forms of sessions and messages).
//
// What makes an acknowledgement a promise the broker keeps (issue #5, docs/durability.md).
//
// - Store writes of the data path: outbound messages of persistent sessions (queued and in
//   flight, with their packet ids), inbound QoS 2 packet ids awaiting PUBREL. Everything is
//   keyed by client id and a per-session sequence number, so a takeover or a restart continues
//   where the last owner stopped. Non-persistent sessions and QoS 0 never touch the store.
// - The commit gate: a packet whose meaning depends on a write (PUBACK/PUBREC after the
//   message is stored for every persistent subscriber, PUBCOMP after the inbound id is gone,
//   a QoS 2 PUBLISH after its packet id is stored, PUBREL after the PUBREC state is stored)
//   waits in the gate until the writes of its event-loop turn have committed. lmdb-js puts
//   every write of a turn into one transaction (group commit), so one promise releases a
//   whole turn of gated packets, in order. Later packets for a connection that has packets in
//   the gate queue behind them, so a connection never sees its packets reordered.
// - Cross-shard: a QoS 1/2 message forwarded to another shard is stored (if at all) by that
//   shard. At the end of the turn the gate sends a COMMIT_BARRIER to each shard it forwarded
//   to; the peer answers once everything before it in the ring is applied and committed.
//   The gated acks of the turn go out when the local commit and all those answers are in.
// - memory mode: the gate is off and nothing here runs.
import { writeCommitBarrier } from '../peers/frames.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { observeCommit, Stat } from '../../shared/stats.ts';
import type { OutboundEntry, OutboundState } from '../../shared/store/index.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { Message } from '../session/message.ts';
import { AckType } from '../protocol/acks.ts';
import { toStoredMessage } from './persist.ts';
import { HeldAcks } from './held-acks.ts';
import type { Outbound, Session } from '../session/session.ts';
import type { Store } from '../../shared/store/index.ts';
import type { ShardContext } from '../context.ts';
import type { PeerLink } from '../peers/peers.ts';
import type { DeliveryStore } from '../routing/delivery.ts';
import type { ForwardGate } from '../routing/routing.ts';
import type { MoveGate } from '../session/moves.ts';

/** What the gate asks of session moves (moves.ts): they may park or forward what a barrier covers. */
export interface MoveBarriers {
  /** A commit barrier has more to wait for than this shard's own commit. */
  active(): boolean;
  /** Settles once what arrived before now is written or forwarded and committed; true when lost. */
  committed(chained: boolean, parkedWaitMs: number): Promise<boolean>;
}

/**
 * What a waitFor promise rejects with when the message may be gone from where it went (another
 * node's frames dropped past --cluster-hold-bytes): the turn's acks are withheld as for a crashed
 * peer, their QoS 2 ids forgotten so that the resends are routed again.
 */
export class ForwardLost extends Error {}

const REFUSED = Promise.reject(new Error('not kept for another node: past --cluster-hold-bytes while cut off from NATS'));
REFUSED.catch(() => {});

/**
 * What a node's commit promise (waitFor) resolves with when NATS went while its answer was out
 * (cluster/link.ts, cut): its frames are in the hold now, and the acks of the messages that went
 * to that node (`slot`) wait for `wait`, the hold's promise for them, on their connections alone
 * (held-acks.ts). The group they were in goes out at its own commits: local acks do not wait for
 * NATS, and these do not fail at --cluster-timeout for an answer that can no longer come.
 */
export class HeldOn {
  readonly slot: number;
  readonly wait: Promise<void>;
  constructor(slot: number, wait: Promise<void>) { this.slot = slot; this.wait = wait; }
}

/** Settles once `a` and `b` have, failing if either fails; never an unhandled rejection (the ack that awaits it handles it, held-acks.ts). */
function both(a: Promise<void>, b: Promise<void>): Promise<void> {
  const p = Promise.all([a, b]).then(() => {});
  p.catch(() => {});
  return p;
}

const NO_MOVES: MoveBarriers = { active: () => false, committed: () => Promise.resolve(false) };

interface Group {
  /** conn, buf, conn, buf, ... in the order they were handed to the gate. */
  items: (Connection | Buffer)[];
  /** Commits and peer answers still awaited. */
  left: number;
  /** Peers whose answer is awaited. */
  peers: number;
  failed: boolean;
  /**
   * A peer this group forwarded to crashed before answering: what it had not committed is gone,
   * so the acks of the group are not sent; their publishers are disconnected and resend (DUP).
   */
  lost: boolean;
  /**
   * Something the acks waited for beyond the stores (waitFor: another node's commit answer, a
   * retained set at its home shard) failed or did not come in time: the group's acks are not
   * sent, but nothing else of the group depended on it, so its other packets (deliveries,
   * PUBREL, PUBCOMP) go out and their connections stay.
   */
  unconfirmed: boolean;
  /** Acks (by index in items) that also wait for something long, on their connection alone (held-acks.ts). */
  longs: Map<number, Promise<void>> | null;
  /** index in items, mask of the cluster's node slots the ack's message went to, ...: what a HeldOn moves to `longs`. */
  nodeAcks: number[] | null;
}

/** An awaited COMMIT_BARRIER answer: a group's (publisher acks) or a chained one's (see onCommitBarrier). */
interface Barrier { peer: number; g: Group | null; done: ((lost: boolean) => void) | null }

/** How long a commit barrier's answer waits for a session move to release what it parked (moves.ts). */
const PARKED_WAIT_MS = 60_000;

const STATES: readonly OutboundState[] = ['queued', 'sent', 'pubrel'];

export class Durability implements ForwardGate, DeliveryStore, MoveGate {
  /** The store is on disk (durable or fast): the gate and the writes are on. */
  readonly enabled: boolean;
  /** Store writes issued so far; a handler compares before/after to know whether it wrote. */
  writes = 0;
  /** Peers that got a QoS 1/2 or retained frame in the current turn (Routing.forward). */
  forwardMask = 0;
  /** QoS 1/2 or retained frames forwarded so far; compared before/after like `writes`. */
  forwards = 0;
  /** A QoS 1/2 message of this turn went nowhere it would be kept (a restarted peer's sessions are not back yet). */
  private lostTurn = false;
  /** Since the last mark(), a frame for another node was refused (refusedForward). */
  refusedSinceMark = false;
  /** What the next gated PUBACK / PUBREC also waits for (waitFor with `long`), on its connection alone. */
  private longWait: Promise<void> | null = null;
  /** The cluster's node slots (a mask) the message of the next gated PUBACK / PUBREC went to (sentToNode). */
  private nodeSlots = 0;
  private readonly held = new HeldAcks();
  /** The store holds --max-store-bytes or more (polled, upkeep.ts). */
  storeFull = false;
  private readonly shard: ShardContext;
  private readonly store: Store;
  private readonly peers: PeerLink;
  /** Set by the wiring (moves.ts needs Durability too). */
  moves: MoveBarriers = NO_MOVES;
  private open: Group | null = null;
  private readonly waiting: Group[] = [];
  private readonly barriers = new Map<number, Barrier>();
  private token = 0;
  private sealScheduled = false;
  private readonly sealFn = (): void => this.seal();
  private extra: Promise<unknown>[] = [];
  private lastTracked: Promise<void> | null = null;
  /**
   * A restarted shard: the persistent sessions its dead incarnation counted, left in its stats
   * row (worker/index.ts) until the sessions homed here are loaded again (homedLoaded). From zero,
   * a peer that had not yet heard of the crash read "nothing to commit there" and acknowledged
   * at once what it had just put into the dead shard's ring; one that heard of it then kept none
   * of the old routes aside (routing.ts) and acknowledged what matched nobody.
   */
  private carried: number;

  constructor(shard: ShardContext, store: Store, peers: PeerLink) {
    this.shard = shard;
    this.store = store;
    this.peers = peers;
    this.enabled = store.persistence !== 'memory';
    this.carried = shard.stats.get(shard.id, Stat.PERSISTENT_SESSIONS);
  }

  /** The persistent sessions homed here are loaded (and counted): the dead incarnation's count goes. */
  homedLoaded(): void {
    if (this.carried === 0) return;
    this.shard.stats.add(this.shard.id, Stat.PERSISTENT_SESSIONS, -this.carried);
    this.carried = 0;
  }

  /**
   * A mark of the writes and forwards issued so far: a handler takes one before routing a message
   * and asks `changedSince` after, to know whether its ack must wait for the gate.
   */
  countForward(): void { this.forwards++; }

  mark(): number { this.refusedSinceMark = false; return this.writes + this.forwards; }
  changedSince(mark: number): boolean { return this.writes + this.forwards !== mark; }

  /**
   * An ack issued in this turn must also wait for `p` (a retained set's commit at the topic's
   * home shard, retain-sync.ts). Counts as a forward, so the publisher's ack waits.
   */
  waitFor(p: Promise<void>, long = false): void {
    if (!this.enabled) return;
    this.forwards++;
    if (!long) { this.extra.push(p); return; }
    // Routing runs before the publisher's ack is gated: the next PUBACK / PUBREC is that ack.
    this.longWait = this.longWait === null ? p : both(this.longWait, p);
    this.longWait.catch(() => {}); // handled where the ack waits (held-acks.ts); an ack that never came must not crash the shard
  }

  /**
   * This turn's acks also wait for a node's commit answer (cluster/link.ts); a HeldOn instead
   * (NATS went before the answer) moves the acks of the messages that went there to the hold.
   */
  waitForNode(p: Promise<HeldOn | undefined>): void {
    if (!this.enabled) return;
    this.forwards++;
    this.extra.push(p);
  }

  /**
   * A QoS 1/2 frame of this message went to the cluster's node `slot` (cluster/link.ts): the
   * next gated ack is noted with it, so that if NATS goes before that node's commit answer (a
   * HeldOn) only the acks of messages that went there wait for the hold. One bit per frame.
   */
  sentToNode(slot: number): void {
    if (this.enabled) this.nodeSlots |= 1 << slot;
  }

  /**
   * Counts the persistent sessions this shard owns, in the shared stats block, so that peers
   * know whether a message forwarded here can cause a write at all. A session counts from its
   * adoption (before its CONNACK or SUBACK), so a publish made after a persistent subscriber's
   * SUBACK always sees it.
   */
  owned(s: Session, yes: boolean): void {
    const want = yes && s.persistent;
    if (s.counted === want) return;
    s.counted = want;
    this.shard.stats.add(this.shard.id, Stat.PERSISTENT_SESSIONS, want ? 1 : -1);
  }

  /**
   * A QoS 1/2 message of this turn matched the routes of a restarted peer whose persistent
   * sessions are not back yet: nothing keeps it for them, so the turn's acks are withheld (their
   * publishers are disconnected and resend, as when a peer crashes under a commit barrier).
   */
  lostForward(): void {
    if (!this.enabled) return;
    this.forwards++;
    this.lostTurn = true;
  }

  /**
   * A QoS 1/2 frame for another node was not kept (past --cluster-hold-bytes while NATS is
   * away): the message's ack fails on its connection alone (DISCONNECT 0x80, as a held ack past
   * --cluster-hold), and the handler, told by refusedSinceMark, has a QoS 2 resend go to the other
   * nodes only. Before, the whole turn was lost and its QoS 2 ids forgotten, so the resends were
   * routed again here too: a local subscriber got them twice.
   */
  refusedForward(): void {
    if (!this.enabled) return;
    this.refusedSinceMark = true;
    this.waitFor(REFUSED, true);
  }

  /**
   * Routing forwarded a QoS 1/2 frame to `peer`: the publisher's ack waits for the peer's
   * commit, unless the peer owns no persistent session (then it writes nothing for it).
   */
  forwarded(peer: number): void {
    if (!this.enabled || this.shard.stats.get(peer, Stat.PERSISTENT_SESSIONS) <= 0) return;
    this.forwards++;
    this.forwardMask |= 1 << peer;
  }

  // ------------------------------------------------------------ writes

  /** Counts a store write and logs its failure (the gate sees the failure through flushed()). */
  track(p: Promise<void>, what: string): void {
    this.writes++;
    // The store hands out one promise per transaction: one handler per transaction, not per write.
    if (p === this.lastTracked) return;
    this.lastTracked = p;
    p.catch((err: unknown) => this.shard.log.error({ err }, `store: ${what} failed`));
  }

  /** Writes (or rewrites) one outbound message of a persistent session; gives it a seq first. */
  putOutbound(s: Session, o: Outbound): void {
    if (o.seq === 0) o.seq = s.nextSeq++;
    const e: OutboundEntry = { packetId: o.packetId, state: STATES[o.state]!, msg: toStoredMessage(o.msg) };
    // The delivery's QoS and retain flag are what must be re-sent, not the publisher's.
    e.msg.qos = o.qos;
    e.msg.retain = o.retain;
    this.track(this.store.putOutbound(s.clientId, o.seq, e), 'put outbound');
  }

  deleteOutbound(s: Session, o: Outbound): void {
    if (o.seq === 0) return;
    this.track(this.store.deleteOutbound(s.clientId, o.seq), 'delete outbound');
    o.seq = 0;
  }

  putInbound(s: Session, packetId: number): void {
    this.track(this.store.putInboundQos2(s.clientId, packetId), 'put inbound QoS 2 id');
  }

  deleteInbound(s: Session, packetId: number): void {
    this.track(this.store.deleteInboundQos2(s.clientId, packetId), 'delete inbound QoS 2 id');
  }

  /** A persistent session taken from the store: its queue, in-flight messages and inbound QoS 2 ids. */
  restore(s: Session): void {
    if (!this.enabled) return;
    const sh = this.shard;
    const now = Date.now();
    let maxSeq = 0;
    for (const [seq, e] of this.store.loadOutbound(s.clientId)) {
      if (seq > maxSeq) maxSeq = seq;
      const m = e.msg;
      const msg = new Message(m.topic, m.payload, m.qos, m.retain, m.properties, m.expiresAt, '');
      const state = STATES.indexOf(e.state) as 0 | 1 | 2;
      const o: Outbound = { msg, qos: m.qos, retain: m.retain, subIds: null, packetId: e.packetId, state, seq };
      if (state === 0 && msg.expired(now)) {
        this.deleteOutbound(s, o);
        sh.stats.add(sh.id, Stat.EXPIRED, 1);
        continue;
      }
      if (state === 0) { s.enqueue(o); sh.stats.add(sh.id, Stat.QUEUED, 1); }
      else s.writableInflight().set(o.packetId, o);
    }
    if (maxSeq >= s.nextSeq) s.nextSeq = maxSeq + 1;
    for (const id of this.store.loadInboundQos2(s.clientId)) s.writableInboundQos2().add(id);
  }

  // ------------------------------------------------------------ the gate

  /**
   * Puts `buf` into the gate: it goes out on `conn` after the writes issued so far (and the
   * peers' for what this shard forwarded in this turn) have committed. Callers go through
   * sendGated (gate.ts), which decides whether a packet needs the gate at all.
   */
  enqueue(conn: Connection, buf: Buffer): void {
    if (!this.enabled) { conn.send(buf); return; }
    let g = this.open;
    if (g === null) {
      g = this.open = { items: [], left: 0, peers: 0, failed: false, lost: false, unconfirmed: false, longs: null, nodeAcks: null };
      if (!this.sealScheduled) { this.sealScheduled = true; setImmediate(this.sealFn); }
    }
    conn.gated++;
    g.items.push(conn, buf);
    if (this.longWait !== null && (buf[0] === AckType.PUBACK || buf[0] === AckType.PUBREC)) {
      (g.longs ??= new Map()).set(g.items.length - 2, this.longWait);
      this.longWait = null;
    }
    if (this.nodeSlots !== 0 && (buf[0] === AckType.PUBACK || buf[0] === AckType.PUBREC)) {
      (g.nodeAcks ??= []).push(g.items.length - 2, this.nodeSlots);
      this.nodeSlots = 0;
    }
  }


  /**
   * `buf` goes out on `conn` once this shard's writes issued so far have committed, without
   * waiting for peers or for the groups before it (other connections' packets). Behind the
   * connection's own gated packets if it has any; its later ones queue behind it (conn.gated),
   * and their commit settles after this one.
   */
  enqueueLocal(conn: Connection, buf: Buffer): void {
    if (!this.enabled) { conn.send(buf); return; }
    if (conn.gated > 0) { this.enqueue(conn, buf); return; }
    conn.gated++;
    this.store.flushed().then(() => this.sendLocal(conn, buf, false), () => this.sendLocal(conn, buf, true));
  }

  private sendLocal(conn: Connection, buf: Buffer, failed: boolean): void {
    conn.gated--;
    if (conn.state === ConnState.CLOSED) return;
    if (failed) conn.disconnect(Reason.UNSPECIFIED_ERROR, 'store commit failed');
    else conn.send(buf);
  }

  /** End of the turn: wait for the local commit and one commit barrier per peer forwarded to. */
  private seal(): void {
    this.sealScheduled = false;
    const g = this.open;
    const mask = this.forwardMask;
    this.forwardMask = 0;
    const extra = this.extra;
    if (extra.length > 0) this.extra = [];
    const lost = this.lostTurn;
    this.lostTurn = false;
    this.longWait = null;
    this.nodeSlots = 0;
    if (g === null) return;
    if (lost) g.lost = true;
    this.open = null;
    this.waiting.push(g);
    const sh = this.shard;
    g.left = 1 + extra.length;
    for (const p of extra) p.then((v) => { if (v instanceof HeldOn) this.heldOn(g, v); this.settle(g, false); }, (e: unknown) => { if (e instanceof ForwardLost) g.lost = true; else g.unconfirmed = true; this.settle(g, false); });
    for (let i = 0; i < sh.count; i++) {
      if (i === sh.id || (mask & (1 << i)) === 0) continue;
      g.left++;
      g.peers |= 1 << i;
      this.sendBarrier(i, { peer: i, g, done: null }, 0);
    }
    if (this.moves.active()) {
      // Session moves in progress: what arriving sessions parked, and what ghosts forwarded, too.
      g.left++;
      this.moves.committed(false, PARKED_WAIT_MS).then((lost) => {
        if (lost) g.lost = true;
        this.store.flushed().then(() => this.settle(g, false), () => this.settle(g, true));
      }, () => this.settle(g, true));
    }
    const t0 = performance.now();
    this.store.flushed().then(() => {
      // One group commit's latency (the histogram on /metrics): a turn's cost, not a message's.
      observeCommit(sh.stats, sh.id, (performance.now() - t0) / 1000);
      this.settle(g, false);
    }, () => this.settle(g, true));
  }

  /** NATS went before `v.slot`'s commit answer: the acks of messages that went there wait for the hold instead. */
  private heldOn(g: Group, v: HeldOn): void {
    const acks = g.nodeAcks;
    if (acks === null) return;
    const bit = 1 << v.slot;
    for (let k = 0; k < acks.length; k += 2) {
      if ((acks[k + 1]! & bit) === 0) continue;
      const longs = g.longs ??= new Map();
      const before = longs.get(acks[k]!);
      longs.set(acks[k]!, before === undefined ? v.wait : both(before, v.wait));
    }
  }

  private settle(g: Group, failed: boolean): void {
    if (failed) g.failed = true;
    if (--g.left > 0) return;
    // Groups leave in order: a later commit never overtakes an earlier one's packets.
    while (this.waiting.length > 0 && this.waiting[0]!.left <= 0) this.release(this.waiting.shift()!);
  }

  private release(g: Group): void {
    const items = g.items;
    if (g.lost) this.forgetWithheld(items);
    for (let i = 0; i < items.length; i += 2) {
      const conn = items[i] as Connection;
      const buf = items[i + 1] as Buffer;
      conn.gated--;
      if (conn.state === ConnState.CLOSED) continue;
      if (g.failed) {
        // Not committed: no acknowledgement. The client resends (QoS 1/2 with a session) or knows it was not accepted.
        conn.disconnect(Reason.UNSPECIFIED_ERROR, 'store commit failed');
        continue;
      }
      if (g.unconfirmed && (buf[0] === AckType.PUBACK || buf[0] === AckType.PUBREC)) {
        // The QoS 2 packet id stays: the resend is answered without routing it again (no copy twice).
        conn.disconnect(Reason.UNSPECIFIED_ERROR, 'not confirmed where the message went; publish it again');
        continue;
      }
      if (g.lost && (buf[0] === AckType.PUBACK || buf[0] === AckType.PUBREC)) {
        this.unacknowledged(conn);
        continue;
      }
      // An ack that waits long: on its connection alone (held-acks.ts), which counts it as gated
      // until it goes. The connection's later packets do not wait behind it: MQTT orders a
      // server's deliveries per topic, not its acks (docs/cluster.md, "NATS lost").
      const wait = g.longs === null ? null : g.longs.get(i) ?? null;
      if (wait !== null) { conn.gated++; this.held.park(conn, buf, wait); continue; }
      conn.send(buf);
    }
  }

  /**
   * An ack (PUBACK / PUBREC) whose message a crashed peer may not have committed: not sent. The
   * publisher's connection is closed instead, so it resends the message with DUP on its next
   * connection (an error code would be wrong: the message may well have been delivered). Its QoS 2
   * packet id was forgotten (forgetWithheld), so that the resend is routed again: subscribers that
   * already had it may get it twice, but none that was on the crashed shard loses it.
   */
  private unacknowledged(conn: Connection): void {
    conn.disconnect(Reason.UNSPECIFIED_ERROR, 'a shard the message went to crashed before storing it; publish it again');
  }

  /**
   * The QoS 2 packet ids of a lost group's PUBRECs are forgotten before any of its publishers is
   * disconnected: a disconnect detaches the session from its connection, and an id left behind
   * would answer the resend with PUBREC without routing it (acknowledged, never stored where the
   * crashed shard's sessions are). A window of a persistent publisher lost 39 of 40 that way.
   */
  private forgetWithheld(items: (Connection | Buffer)[]): void {
    for (let i = 0; i < items.length; i += 2) {
      const buf = items[i + 1] as Buffer;
      if (buf[0] !== AckType.PUBREC) continue;
      const s = (items[i] as Connection).session;
      if (s === null) continue;
      const id = buf.readUInt16BE(2);
      if (s.writableInboundQos2().delete(id) && s.persistent && this.enabled) this.deleteInbound(s, id);
    }
  }

  private sendBarrier(peer: number, b: Barrier, flag: number): void {
    const sh = this.shard;
    const token = this.token = (this.token + 1) >>> 0;
    this.barriers.set(token, b);
    writeCommitBarrier(this.peers.writer(), false, sh.id, token, flag);
    this.peers.commit(peer);
  }

  /** A COMMIT_BARRIER of its own to `peer`: resolves with its answer (true: lost). */
  committedAt(peer: number): Promise<boolean> {
    return new Promise((resolve) => this.sendBarrier(peer, { peer, g: null, done: resolve }, 0));
  }

  /**
   * A COMMIT_BARRIER to `peer` on behalf of one received here (a chain): resolves with its
   * answer, true when lost (a shard on the way crashed before committing).
   */
  chain(peer: number): Promise<boolean> {
    return new Promise((resolve) => this.sendBarrier(peer, { peer, g: null, done: resolve }, 1));
  }

  /**
   * From a peer: answer once what it sent before this barrier is applied (done: frames are FIFO)
   * and committed, here and wherever a session move took it on from here: messages that arriving
   * sessions parked are released and written first, and what ghosts forwarded (DIRECT) to a new
   * owner is committed there (a barrier of our own to it, moves.ts). `chained`: the barrier is
   * itself such a one; it does not wait for older chains (two shards chaining to each other
   * would wait for each other for good), only for the chains it starts.
   */
  onCommitBarrier(from: number, token: number, chained: boolean): void {
    const sh = this.shard;
    const answer = (lost: boolean): void => {
      writeCommitBarrier(this.peers.writer(), true, sh.id, token, lost ? 1 : 0);
      this.peers.commit(from);
    };
    // A failed commit stored nothing: the acks that wait for this answer must not go out.
    if (!this.moves.active()) { this.store.flushed().then(() => answer(false), () => answer(true)); return; }
    this.moves.committed(chained, PARKED_WAIT_MS).then((lost) => {
      this.store.flushed().then(() => answer(lost), () => answer(true));
    }, (err: unknown) => { sh.log.error({ err }, 'commit barrier'); answer(true); });
  }

  onCommitBarrierAck(token: number, lost: boolean): void {
    const b = this.barriers.get(token);
    if (b === undefined) return;
    this.barriers.delete(token);
    this.answered(b, lost);
  }

  private answered(b: Barrier, lost: boolean): void {
    if (b.done !== null) { b.done(lost); return; }
    const g = b.g!;
    if (lost) g.lost = true;
    this.settle(g, false);
  }

  /**
   * A peer died and was restarted: its answers will not come, and what it had not committed of
   * the messages forwarded to it is gone (its persistent sessions come back from the store, at
   * their home shards, without it). The acks that waited for it are not sent (unacknowledged()).
   */
  peerRestarted(peer: number): void {
    let n = 0;
    const bit = 1 << peer;
    if ((this.forwardMask & bit) !== 0) {
      // Forwarded in this turn, into the dead incarnation's ring: the barrier that the end of the
      // turn would send goes into the fresh ring, and the new incarnation, which never saw those
      // messages, would answer it. The turn's acks are withheld instead.
      this.forwardMask &= ~bit;
      this.lostTurn = true;
      n++;
    }
    for (const [token, b] of [...this.barriers]) {
      if (b.peer !== peer) continue;
      this.barriers.delete(token);
      n++;
      this.answered(b, true);
    }
    if (n > 0) this.shard.log.warn({ peer, barriers: n }, 'shard restarted with commit barriers unanswered: their publishers are disconnected unacknowledged, to resend');
  }
}

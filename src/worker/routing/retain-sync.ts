import { homeShard } from '../peers/frames.ts';
import { PubFlag, writePublish } from '../protocol/publish-view.ts';
import { writeRetainDone, writeRetainSet } from './frames.ts';
import { Stat } from '../../shared/stats.ts';
import type { Store } from '../../shared/store/index.ts';
import type { ShardContext } from '../context.ts';
import { fromStoredMessage, toStoredMessage } from '../durable/persist.ts';
import type { PeerLink } from '../peers/peers.ts';
import { Message } from '../session/message.ts';
import type { RetainedIndex } from './retain.ts';
import { retainedExpired } from '../hooks/lifecycle.ts';

const EXPIRY_SWEEP_MS = 1000;
const EMPTY = Buffer.alloc(0);

interface PendingSet { msg: Message; home: number; resolve: (() => void) | null }

/**
 * One order per retained topic across shards. Every set of a topic goes through the topic's home
 * shard, which applies it, writes the store and then tells every other shard, all in its own
 * order; rings are FIFO, so every replica (and the store) ends at the same value even when two
 * shards set the topic at the same moment. Without this, each shard applied its own set first
 * and the other's second, and the replicas disagreed for good.
 *
 * The publishing shard also applies its set at once, so its own clients read their writes; a
 * concurrent set from elsewhere may then show briefly until the home's order arrives.
 */
export class RetainedSync {
  private readonly shard: ShardContext;
  private readonly peers: PeerLink;
  private readonly store: Store;
  /** This shard's replica of the retained messages. */
  readonly retained: RetainedIndex;
  private readonly pending = new Map<number, PendingSet>();
  private nextToken = 0;
  /**
   * Retained messages with a Message Expiry whose topic is homed here (topic → expiresAt): the
   * home removes each once expired, from every replica and the store, as one more clear in the
   * topic's order. Messages without expiry cost nothing here.
   */
  private readonly expiring = new Map<string, number>();
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(shard: ShardContext, peers: PeerLink, retained: RetainedIndex, store: Store) {
    this.shard = shard;
    this.peers = peers;
    this.retained = retained;
    this.store = store;
  }

  /** Applies a set or clear to this shard's replica. */
  replica(msg: Message): void {
    // An empty retained payload clears the topic and is not itself stored [MQTT-3.3.1-10/11].
    this.retained.set(msg.topic, msg.payload.length === 0 ? null : msg.detach());
    this.shard.stats.set(this.shard.id, Stat.RETAINED, this.retained.size);
    this.track(msg);
  }

  private track(msg: Message): void {
    if (msg.expiresAt !== 0 && msg.payload.length > 0 && homeShard(msg.topic, this.shard.count) === this.shard.id) {
      this.expiring.set(msg.topic, msg.expiresAt);
      if (this.expiryTimer === null) {
        this.expiryTimer = setInterval(() => this.expire(Date.now()), EXPIRY_SWEEP_MS);
        this.expiryTimer.unref();
      }
    } else if (this.expiring.size > 0) this.expiring.delete(msg.topic);
  }

  /** Clears the expired retained messages homed here (onRetainedExpired for each). */
  private expire(now: number): void {
    for (const [topic, at] of this.expiring) {
      if (at > now) continue;
      this.expiring.delete(topic);
      if (this.retained.get(topic)?.expiresAt !== at) continue;
      void this.apply(new Message(topic, EMPTY, 0, true, null, 0, ''), -1);
      if (this.shard.hooks.has.onRetainedExpired) retainedExpired(this.shard, topic);
    }
    if (this.expiring.size === 0 && this.expiryTimer !== null) { clearInterval(this.expiryTimer); this.expiryTimer = null; }
  }

  /** Writes a retained set to the store; settles when committed (a failure is logged, not thrown). */
  private stored(msg: Message): Promise<void> {
    return this.store.putRetained(msg.topic, msg.payload.length === 0 ? null : toStoredMessage(msg))
      .catch((err) => this.shard.log.error({ err, topic: msg.topic }, 'store: put retained failed'));
  }

  /**
   * A retained PUBLISH (or will) published on this shard. The promise settles once the home
   * shard has applied and committed it: the point after which an acknowledgement is honest.
   */
  set(msg: Message): Promise<void> {
    const sh = this.shard;
    const home = homeShard(msg.topic, sh.count);
    if (home === sh.id) return this.apply(msg, -1);
    this.replica(msg);
    const token = this.nextToken = (this.nextToken + 1) >>> 0 || 1;
    const p: PendingSet = { msg, home, resolve: null };
    this.pending.set(token, p);
    const done = new Promise<void>((resolve) => { p.resolve = resolve; });
    this.send(token, p);
    return done;
  }

  private send(token: number, p: PendingSet): void {
    const sh = this.shard;
    const m = p.msg;
    writeRetainSet(this.peers.writer(), sh.id, token, m.qos | PubFlag.RETAIN, m.expiresAt, m.topic, m.origin, m.props, m.payload);
    this.peers.commit(p.home);
  }

  /** At the home shard: apply, tell every other shard, commit, then answer the asker (if any). */
  private apply(msg: Message, from: number, token = 0): Promise<void> {
    const sh = this.shard;
    this.replica(msg);
    if (sh.count > 1) {
      writePublish(this.peers.writer(), msg.qos | PubFlag.RETAIN | PubFlag.RETAIN_UPDATE, 0, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, null);
      this.peers.broadcast();
    }
    const committed = this.stored(msg);
    if (from < 0) return committed;
    return committed.then(() => {
      writeRetainDone(this.peers.writer(), token);
      this.peers.commit(from);
    });
  }

  /** RETAIN_SET from a peer: this shard is the topic's home. */
  onSet(from: number, token: number, msg: Message): void { void this.apply(msg, from, token); }

  onDone(token: number): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.pending.delete(token);
    p.resolve!();
  }

  /** The home of some pending sets restarted with fresh rings: ask again. */
  peerRestarted(peer: number): void {
    for (const [token, p] of this.pending) if (p.home === peer) this.send(token, p);
  }

  /** A peer restarted: in memory mode, which has no shared store, one peer sends it the replica. */
  sendReplica(peer: number): void {
    if (this.store.persistence === 'memory' && (peer + 1) % this.shard.count === this.shard.id) {
      for (const m of this.retained.entries()) {
        if (m.topic.startsWith('$SYS')) continue;
        writePublish(this.peers.writer(), m.qos | PubFlag.RETAIN | PubFlag.RETAIN_UPDATE, 0, m.expiresAt, m.topic, m.origin, m.props, m.payload, null);
        this.peers.commit(peer);
      }
    }
  }

  /** Loads the retained messages from the store (at start). */
  load(now: number): void {
    for (const m of this.store.loadRetained()) {
      if (m.expiresAt !== 0 && m.expiresAt <= now) continue;
      const msg = fromStoredMessage(m);
      this.retained.set(m.topic, msg);
      this.track(msg);
    }
    this.shard.stats.set(this.shard.id, Stat.RETAINED, this.retained.size);
  }
}

import { homeShard, PubFlag, writePublish, writeRetainDone, writeRetainSet } from '../peers/frames.ts';
import type { Message } from '../session/message.ts';
import type { Shard } from '../shard.ts';

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
  private readonly shard: Shard;
  private readonly pending = new Map<number, PendingSet>();
  private nextToken = 0;

  constructor(shard: Shard) { this.shard = shard; }

  /**
   * A retained PUBLISH (or will) published on this shard. The promise settles once the home
   * shard has applied and committed it: the point after which an acknowledgement is honest.
   */
  set(msg: Message): Promise<void> {
    const sh = this.shard;
    const home = homeShard(msg.topic, sh.count);
    if (home === sh.id) return this.apply(msg, -1);
    sh.retainReplica(msg);
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
    writeRetainSet(sh.peers.writer(), sh.id, token, m.qos | PubFlag.RETAIN, m.expiresAt, m.topic, m.origin, m.props, m.payload);
    sh.peers.commit(p.home);
  }

  /** At the home shard: apply, tell every other shard, commit, then answer the asker (if any). */
  private apply(msg: Message, from: number, token = 0): Promise<void> {
    const sh = this.shard;
    sh.retainReplica(msg);
    for (let i = 0; i < sh.count; i++) {
      if (i === sh.id) continue;
      writePublish(sh.peers.writer(), msg.qos | PubFlag.RETAIN | PubFlag.RETAIN_UPDATE, 0, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, null);
      sh.peers.commit(i);
    }
    const committed = sh.storeRetained(msg);
    if (from < 0) return committed;
    return committed.then(() => {
      writeRetainDone(sh.peers.writer(), token);
      sh.peers.commit(from);
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
}

// The store's background work on a shard: a size poll (for --max-store-bytes and $SYS) and the
// expiry sweep of offline sessions' queues.
import { Stat } from '../../shared/stats.ts';
import type { Store } from '../../shared/store/index.ts';
import type { ShardContext } from '../context.ts';
import type { Session } from '../session/session.ts';
import type { Durability } from './durability.ts';
import { publishDropped } from '../hooks/lifecycle.ts';

const POLL_MS = 1000;
const SWEEP_MS = 10_000;
const SWEEP_BUDGET = 2000;

export class StoreUpkeep {
  private readonly shard: ShardContext;
  private readonly store: Store;
  /** The sessions this shard owns. */
  private readonly sessions: ReadonlyMap<string, Session>;
  private readonly durability: Pick<Durability, 'enabled' | 'storeFull' | 'deleteOutbound'>;
  private timers: NodeJS.Timeout[] = [];

  constructor(shard: ShardContext, store: Store, sessions: ReadonlyMap<string, Session>, durability: Pick<Durability, 'enabled' | 'storeFull' | 'deleteOutbound'>) {
    this.shard = shard;
    this.store = store;
    this.sessions = sessions;
    this.durability = durability;
  }

  /** Store size poll (for --max-store-bytes and $SYS) and the expiry sweep of queued messages. */
  start(): void {
    if (this.timers.length > 0) return;
    const poll = setInterval(() => this.poll(), POLL_MS);
    poll.unref();
    const sweep = setInterval(() => this.sweep(), SWEEP_MS);
    sweep.unref();
    this.timers.push(poll, sweep);
    this.poll();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private poll(): void {
    const sh = this.shard;
    let bytes = 0;
    try { bytes = this.store.usedBytes(); } catch { return; }
    sh.stats.set(sh.id, Stat.STORE_BYTES, bytes);
    const max = sh.config.maxStoreBytes;
    this.durability.storeFull = max > 0 && bytes >= max;
    let queued = 0;
    for (const s of this.sessions.values()) queued += s.queuedBytes;
    sh.stats.set(sh.id, Stat.QUEUED_BYTES, queued);
  }

  /**
   * Removes expired messages from the queues of offline sessions (online ones drop them as they
   * pump). Runs in slices of SWEEP_BUDGET queue entries with a yield between, so a shard with
   * millions of queued messages never stalls.
   */
  private sweep(): void {
    const sh = this.shard;
    const sessions = [...this.sessions.values()].filter((s) => s.conn === null && s.queued > 0);
    let i = 0;
    const slice = (): void => {
      let budget = SWEEP_BUDGET;
      const now = Date.now();
      while (i < sessions.length && budget > 0) {
        const s = sessions[i++]!;
        if (s.conn !== null || this.sessions.get(s.clientId) !== s) continue;
        budget -= s.queued;
        let kept = 0;
        const q = s.queue;
        const head = s.queueHead;
        let removed = 0;
        for (let k = head; k < q.length; k++) {
          const o = q[k]!;
          if (o.msg.expired(now)) {
            if (this.durability.enabled) this.durability.deleteOutbound(s, o);
            s.queuedBytes -= o.msg.payload.length + o.msg.topic.length;
            if (o.qos === 0) s.qos0Held--;
            if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, o.msg, o.qos, 'expired');
            removed++;
          } else q[head + kept++] = o;
        }
        if (removed > 0) {
          q.length = head + kept;
          sh.stats.add(sh.id, Stat.QUEUED, -removed);
          sh.stats.add(sh.id, Stat.EXPIRED, removed);
        }
      }
      if (i < sessions.length) setImmediate(slice);
    };
    slice();
  }
}

// This node's route announcements (docs/cluster.md): per filter, the set of shards with at
// least one subscriber (a bitmask, as the shards report their first / last); the node announces
// a filter when the set stops being empty and withdraws it when it is empty again, as a key of
// the routes bucket. Main is the one thread that sees every shard's changes in one order.
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { routeKey } from '../../shared/cluster/names.ts';

export class RouteAnnouncer {
  private readonly node: string;
  private readonly log: Logger;
  /** filter → shards with subscribers. */
  private readonly filters = new Map<string, number>();
  /** Null until the node's old keys are gone (start); changes meanwhile are only recorded. */
  private kv: KV | null = null;
  private readonly empty = new Uint8Array(0);

  constructor(node: string, log: Logger) {
    this.node = node;
    this.log = log;
  }

  get size(): number { return this.filters.size; }

  /** Shard `shard` gained its first (add) or lost its last subscriber for `filter`. */
  shardRoute(shard: number, add: boolean, filter: string): void {
    const before = this.filters.get(filter) ?? 0;
    const after = add ? before | (1 << shard) : before & ~(1 << shard);
    if (after === before) return;
    if (after === 0) this.filters.delete(filter); else this.filters.set(filter, after);
    if ((before === 0) !== (after === 0)) this.write(after !== 0, filter);
  }

  /** A shard exited: what it had is gone (it reports its sessions' filters again when it is back). */
  shardGone(shard: number): void {
    for (const [filter, mask] of [...this.filters]) if ((mask & (1 << shard)) !== 0) this.shardRoute(shard, false, filter);
  }

  /**
   * Replaces whatever an earlier run of this node left in the bucket with what it has now.
   * Deletes and puts go out in order on one connection, so the bucket ends as `filters` is.
   */
  async publish(kv: KV): Promise<void> {
    const old: string[] = [];
    for await (const k of await kv.keys(`${this.node}.>`)) old.push(k);
    await Promise.all(old.map((k) => kv.delete(k)));
    this.kv = kv;
    await Promise.all([...this.filters.keys()].map((f) => kv.put(routeKey(this.node, f), this.empty)));
  }

  /** NATS is gone for good (stop): nothing more is written. */
  detach(): void { this.kv = null; }

  private write(add: boolean, filter: string): void {
    const kv = this.kv;
    if (kv === null) return;
    // Not awaited: one connection keeps the order of a filter's put and delete.
    const key = routeKey(this.node, filter);
    (add ? kv.put(key, this.empty) : kv.delete(key)).catch((err: unknown) => {
      this.log.warn({ err, filter }, 'cluster route announcement failed');
    });
  }
}

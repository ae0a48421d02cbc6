// This node's route announcements (docs/cluster.md): per filter, the set of shards with at
// least one subscriber (a bitmask, as the shards report their first / last); the node announces
// a filter when the set stops being empty and withdraws it when it is empty again, as a key of
// the routes bucket. Main is the one thread that sees every shard's changes in one order.
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { routeKey, shareRouteKey } from '../../shared/cluster/names.ts';

export class RouteAnnouncer {
  private readonly node: string;
  private readonly log: Logger;
  /** filter → shards with subscribers. */
  private readonly filters = new Map<string, number>();
  /** shared group key → member count per shard (the node announces their sum). */
  private readonly shares = new Map<string, Int32Array>();
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

  /** Shard `shard` now has `count` members of shared group `key`. */
  shardShare(shard: number, key: string, count: number): void {
    let counts = this.shares.get(key);
    if (counts === undefined) { counts = new Int32Array(32); this.shares.set(key, counts); }
    if (counts[shard] === count) return;
    counts[shard] = count;
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) this.shares.delete(key);
    this.writeShare(key, total);
  }

  /** A shard exited: what it had is gone (it reports its sessions' filters again when it is back). */
  shardGone(shard: number): void {
    for (const [filter, mask] of [...this.filters]) if ((mask & (1 << shard)) !== 0) this.shardRoute(shard, false, filter);
    for (const [key, counts] of [...this.shares]) if (counts[shard] !== 0) this.shardShare(shard, key, 0);
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
    await Promise.all([
      ...[...this.filters.keys()].map((f) => kv.put(routeKey(this.node, f), this.empty)),
      ...[...this.shares].map(([key, counts]) => kv.put(shareRouteKey(this.node, key), String(counts.reduce((a, b) => a + b, 0)))),
    ]);
  }

  /** NATS is gone for good (stop): nothing more is written. */
  detach(): void { this.kv = null; }

  private write(add: boolean, filter: string): void {
    this.send(routeKey(this.node, filter), add ? this.empty : null, filter);
  }

  private writeShare(key: string, total: number): void {
    this.send(shareRouteKey(this.node, key), total > 0 ? String(total) : null, key);
  }

  /** A put (or, for null, a delete); not awaited: one connection keeps the order of one key's writes. */
  private send(key: string, value: Uint8Array | string | null, what: string): void {
    const kv = this.kv;
    if (kv === null) return;
    (value !== null ? kv.put(key, value) : kv.delete(key)).catch((err: unknown) => {
      this.log.warn({ err, what }, 'cluster route announcement failed');
    });
  }
}

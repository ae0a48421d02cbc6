// The other nodes as main knows them (docs/cluster.md): each one's shard count (from the nodes
// bucket), whether it is up (registered, and a heartbeat within DOWN_AFTER_MS), and its filters
// (from the routes bucket). The shards get every change of an up node's routes; a node that goes
// down has its routes dropped there and sent again when it is back.
import type { ClusterToShard } from '../../shared/control.ts';
import { DOWN_AFTER_MS } from '../../shared/cluster/names.ts';

interface OtherNode {
  shards: number;
  registered: boolean;
  up: boolean;
  lastSeen: number;
  filters: Set<string>;
  /** Its member count per shared group key. */
  shares: Map<string, number>;
  /** Its registration's join number: a new one means it wrote all its routes again. */
  epoch: string;
  /** When each of its filters, and each of its share counts, was last written (seen in the routes watch). */
  seen: Map<string, number>;
  shareSeen: Map<string, number>;
}

/**
 * A node writes all its routes again when it joins, just before its registration; the two
 * buckets' watches may deliver them in either order. RECONCILE_MS after a new registration, its
 * filters not written within WRITTEN_WITHIN_MS of it are ones it no longer has.
 */
const RECONCILE_MS = 2000;
const WRITTEN_WITHIN_MS = 1000;

/** Where the table's changes go: every shard, or one (a restarted shard's catch-up). */
export interface ShardPost {
  broadcast(m: ClusterToShard): void;
  post(shard: number, m: ClusterToShard): void;
}

export class NodeTable {
  private readonly nodes = new Map<string, OtherNode>();
  private readonly out: ShardPost;
  /** Markers' requests waiting until a node's routes are here (whenRoutes). */
  private waiters: { id: string; filters: readonly string[]; done: (ok: boolean) => void }[] = [];

  constructor(out: ShardPost) { this.out = out; }

  private get(id: string): OtherNode {
    let n = this.nodes.get(id);
    if (n === undefined) { n = { shards: 1, registered: false, up: false, lastSeen: 0, filters: new Set(), shares: new Map(), epoch: '', seen: new Map(), shareSeen: new Map() }; this.nodes.set(id, n); }
    return n;
  }

  /** The nodes bucket holds `id` with its shard count: up until its heartbeats stop. */
  registered(id: string, shards: number, epoch: string, now: number): void {
    const n = this.get(id);
    n.registered = true;
    if (n.epoch !== epoch) {
      // It (re)joined, e.g. after NATS restarted with empty buckets: routes it no longer has
      // (dropped while we could not hear) are not deleted from anywhere; drop them here.
      const first = n.epoch === '';
      n.epoch = epoch;
      if (!first) {
        setTimeout(() => {
          if (n.epoch !== epoch) return;
          const before = now - WRITTEN_WITHIN_MS;
          for (const f of [...n.filters]) if ((n.seen.get(f) ?? 0) < before) this.route(id, false, f);
          for (const k of [...n.shares.keys()]) if ((n.shareSeen.get(k) ?? 0) < before) this.share(id, k, 0);
        }, RECONCILE_MS).unref();
      }
    }
    if (n.up && n.shards !== shards) this.setUp(id, n, false); // restarted with another shard count
    n.shards = shards;
    n.lastSeen = now;
    if (!n.up) this.setUp(id, n, true);
  }

  /** `id` left (its key deleted at a graceful stop). */
  left(id: string): void {
    const n = this.nodes.get(id);
    if (n === undefined) return;
    n.registered = false;
    if (n.up) this.setUp(id, n, false);
  }

  heartbeat(id: string, now: number): void {
    const n = this.nodes.get(id);
    if (n === undefined || !n.registered) return; // its registration is on its way
    n.lastSeen = now;
    if (!n.up) this.setUp(id, n, true);
  }

  share(id: string, key: string, count: number): void {
    const n = this.get(id);
    if (count !== 0) n.shareSeen.set(key, Date.now()); else n.shareSeen.delete(key);
    if ((n.shares.get(key) ?? 0) === count) return;
    if (count === 0) n.shares.delete(key); else n.shares.set(key, count);
    if (n.up) this.out.broadcast({ type: 'cluster-share', node: id, key, count });
  }

  /** This node was cut off and is back: the others' silence meanwhile was its own, not theirs. */
  heardAll(now: number): void { for (const n of this.nodes.values()) n.lastSeen = now; }

  /** Nodes silent for DOWN_AFTER_MS are down (killed, or cut off from NATS). */
  sweep(now: number): void {
    for (const [id, n] of this.nodes) if (n.up && now - n.lastSeen > DOWN_AFTER_MS) this.setUp(id, n, false);
  }

  route(id: string, add: boolean, filter: string): void {
    const n = this.get(id);
    if (add) n.seen.set(filter, Date.now()); else n.seen.delete(filter);
    if (add ? n.filters.has(filter) : !n.filters.delete(filter)) return;
    if (add) n.filters.add(filter);
    if (n.up) this.out.broadcast({ type: 'cluster-route', node: id, add, filter });
    if (add && this.waiters.length > 0) this.recheck(id);
  }

  /** The up nodes and their shard counts. */
  upNodes(): [string, number][] {
    return [...this.nodes].filter(([, n]) => n.up).map(([id, n]) => [id, n.shards]);
  }

  /**
   * Resolves true once node `id` is up here with every one of `filters` (so the shards have been
   * sent them: what main posts after this reaches a shard after them), false after `ms`.
   */
  whenRoutes(id: string, filters: readonly string[], ms: number): Promise<boolean> {
    if (this.hasRoutes(id, filters)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { id, filters, done: (ok: boolean): void => { clearTimeout(timer); this.waiters = this.waiters.filter((x) => x !== w); resolve(ok); } };
      const timer = setTimeout(() => w.done(false), ms);
      timer.unref();
      this.waiters.push(w);
    });
  }

  private hasRoutes(id: string, filters: readonly string[]): boolean {
    const n = this.nodes.get(id);
    return n !== undefined && n.up && filters.every((f) => n.filters.has(f));
  }

  private recheck(id: string): void {
    for (const w of [...this.waiters]) if (w.id === id && this.hasRoutes(id, w.filters)) w.done(true);
  }

  /** Everything about up nodes, to one (restarted) shard. */
  syncShard(shard: number): void {
    for (const [id, n] of this.nodes) if (n.up) this.send(id, n, (m) => this.out.post(shard, m));
  }

  /** The nodes for the REST API: id, shards, up. */
  list(): { node: string; shards: number; up: boolean; filters: number }[] {
    return [...this.nodes].filter(([, n]) => n.registered || n.up).map(([node, n]) => ({ node, shards: n.shards, up: n.up, filters: n.filters.size }));
  }

  private setUp(id: string, n: OtherNode, up: boolean): void {
    n.up = up;
    if (up) { this.send(id, n, (m) => this.out.broadcast(m)); if (this.waiters.length > 0) this.recheck(id); }
    else this.out.broadcast({ type: 'cluster-node', node: id, shards: n.shards, up: false });
  }

  private send(id: string, n: OtherNode, to: (m: ClusterToShard) => void): void {
    to({ type: 'cluster-node', node: id, shards: n.shards, up: true });
    for (const filter of n.filters) to({ type: 'cluster-route', node: id, add: true, filter });
    for (const [key, count] of n.shares) to({ type: 'cluster-share', node: id, key, count });
  }
}

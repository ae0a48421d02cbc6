// The dashboard's figures: once a second main reads the shared stats block (as a scrape does:
// the shards do nothing for it) and keeps the last 15 minutes, which a page gets at once and
// then one sample a second over Server-Sent Events.
import { PairStat, Stat, type StatsBlock } from '../../../shared/stats.ts';
import type { ShardsUp } from '../health.ts';

export interface ShardSample { up: 0 | 1; connections: number; elu: number; delay_p99_ms: number; msgs_in_per_s: number }

export interface Sample {
  t: number;                 // unix ms
  connections: number;
  msgs_in_per_s: number;
  msgs_out_per_s: number;
  bytes_in_per_s: number;
  bytes_out_per_s: number;
  drops_per_s: number;
  dropped_total: number;
  subscriptions: number;
  retained: number;
  queued: number;
  store_bytes: number;
  ring_spills_per_s: number;
  shards: ShardSample[];
}

export const HISTORY_SECONDS = 15 * 60;

const DROPS = [Stat.DROPPED_QOS0, Stat.DROPPED_QUEUE_FULL, Stat.DROPPED_STORE_FULL] as const;

export class Sampler {
  private readonly stats: StatsBlock;
  private readonly shards: ShardsUp;
  readonly history: Sample[] = [];
  private readonly listeners = new Set<(s: Sample) => void>();
  private prev: { t: number; shardIn: number[]; inn: number; out: number; bin: number; bout: number; drops: number; spills: number } | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(stats: StatsBlock, shards: ShardsUp, periodMs = 1000) {
    this.stats = stats;
    this.shards = shards;
    this.sample();
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }

  close(): void { clearInterval(this.timer); this.listeners.clear(); }

  /** Calls `fn` with every new sample until the returned function is called. */
  subscribe(fn: (s: Sample) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private sample(): void {
    const s = this.stats;
    const n = this.shards.count;
    const now = Date.now();
    let drops = 0;
    for (const d of DROPS) drops += s.sum(d);
    let spills = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) spills += s.getPair(i, j, PairStat.RING_SPILLED);
    spills = Math.max(spills, s.sum(Stat.RING_SPILLED));
    const cur = {
      t: now, shardIn: Array.from({ length: n }, (_, i) => s.get(i, Stat.MESSAGES_RECEIVED)),
      inn: s.sum(Stat.MESSAGES_RECEIVED), out: s.sum(Stat.MESSAGES_SENT), bin: s.sum(Stat.BYTES_RECEIVED), bout: s.sum(Stat.BYTES_SENT), drops, spills,
    };
    const p = this.prev;
    const dt = p === null ? 1 : Math.max(0.001, (now - p.t) / 1000);
    // A restarted shard's counters start again from 0: a negative difference counts as 0.
    const rate = (a: number, b: number | undefined): number => (b === undefined ? 0 : Math.max(0, (a - b) / dt));
    const sample: Sample = {
      t: now,
      connections: s.sum(Stat.CLIENTS_CONNECTED),
      msgs_in_per_s: rate(cur.inn, p?.inn),
      msgs_out_per_s: rate(cur.out, p?.out),
      bytes_in_per_s: rate(cur.bin, p?.bin),
      bytes_out_per_s: rate(cur.bout, p?.bout),
      drops_per_s: rate(cur.drops, p?.drops),
      dropped_total: drops,
      subscriptions: s.sum(Stat.SUBSCRIPTIONS),
      retained: s.max(Stat.RETAINED),
      queued: s.sum(Stat.QUEUED),
      store_bytes: s.max(Stat.STORE_BYTES),
      ring_spills_per_s: rate(cur.spills, p?.spills),
      shards: Array.from({ length: n }, (_, i) => ({
        up: this.shards.isUp(i) ? 1 : 0,
        connections: s.get(i, Stat.CLIENTS_CONNECTED),
        elu: s.get(i, Stat.LOOP_UTILISATION),
        delay_p99_ms: s.get(i, Stat.LOOP_DELAY_P99) * 1000,
        msgs_in_per_s: rate(cur.shardIn[i]!, p?.shardIn[i]),
      })),
    };
    this.prev = cur;
    this.history.push(sample);
    if (this.history.length > HISTORY_SECONDS) this.history.shift();
    for (const fn of this.listeners) fn(sample);
  }
}

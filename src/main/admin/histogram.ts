// A Prometheus histogram whose buckets the shards count themselves (src/shared/stats.ts,
// observeCommit): main only reads the slots at scrape time and writes them in the exposition
// format, cumulative as Prometheus wants them. prom-client's Histogram observes values itself,
// so this one is registered as a custom metric (an object with get()).
import type { MetricValueWithName, Registry } from 'prom-client';
import type { StatsBlock } from '../../shared/stats.ts';

export interface ShardHistogram {
  name: string;
  help: string;
  /** Upper bounds of the buckets; the slot after the last one counts what lies above. */
  bounds: readonly number[];
  /** First bucket slot; then the sum and the count follow the buckets. */
  firstSlot: number;
}

export function registerShardHistogram(registry: Registry, stats: StatsBlock, shards: number, h: ShardHistogram): void {
  const sumSlot = h.firstSlot + h.bounds.length + 1;
  const metric = {
    name: h.name,
    help: h.help,
    get: async () => {
      const values: MetricValueWithName<string>[] = [];
      for (let i = 0; i < shards; i++) {
        let cumulative = 0;
        for (let b = 0; b <= h.bounds.length; b++) {
          cumulative += stats.get(i, h.firstSlot + b);
          const le = b < h.bounds.length ? String(h.bounds[b]) : '+Inf';
          values.push({ metricName: `${h.name}_bucket`, labels: { shard: i, le }, value: cumulative });
        }
        // The count is the buckets' total as read, not its own slot: the shard adds to a bucket, the
        // sum and the count one after the other while main reads, and a scrape whose +Inf bucket
        // and count were a commit apart is malformed to Prometheus' parsers (test/admin/metrics-sources).
        values.push({ metricName: `${h.name}_sum`, labels: { shard: i }, value: stats.get(i, sumSlot) });
        values.push({ metricName: `${h.name}_count`, labels: { shard: i }, value: cumulative });
      }
      return { name: h.name, help: h.help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  registry.registerMetric(metric as never);
}

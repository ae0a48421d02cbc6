// What /metrics reads, with the real shared structures in one process: the stats block as
// shards write it and shard-pair rings with frames in them (a running broker drains its rings
// too fast to catch them non-empty).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getMetricsFromIterator, type PromData, type PromMetrics } from 'prom2javascript';
import { createMetrics } from '../../src/main/admin/metrics.ts';
import { SpscRing } from '../../src/shared/ring/index.ts';
import { connectedKind, KIND_TRANSPORTS, observeCommit, PairStat, Stat, StatsBlock } from '../../src/shared/stats.ts';

const N = 3;
const CAP = 1 << 16;

function setup() {
  const stats = new StatsBlock(N);
  const rings: (SharedArrayBuffer | null)[][] = Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => (i === j ? null : new SharedArrayBuffer(SpscRing.byteLength(CAP)))));
  const up = [true, true, true];
  const metrics = createMetrics({ stats, shards: { count: N, isUp: (i) => up[i]!, ringBuffer: (f, t) => rings[f]![t]! }, ringCapacity: CAP, version: '9.9.9' });
  const read = async (): Promise<PromMetrics> => getMetricsFromIterator((await metrics.text()).split('\n')[Symbol.iterator]());
  return { stats, rings, up, read };
}

const series = (m: PromMetrics, name: string): PromData[] => (m[name]?.data ?? []) as PromData[];
const one = (m: PromMetrics, name: string, labels: Record<string, string>): number | undefined =>
  series(m, name).find((d) => Object.entries(labels).every(([k, v]) => d.labels[k] === v))?.value;

test('ring occupancy is read from the rings\' own indices, and follows a restarted shard\'s new ring', async () => {
  const { rings, read } = setup();
  const producer = new SpscRing(rings[0]![2]!, 0, CAP);
  const frame = Buffer.alloc(1000, 7);
  for (let k = 0; k < 5; k++) assert.ok(producer.write(frame, 0, frame.length));
  let m = await read();
  assert.equal(one(m, 'shoal_ring_used_bytes', { from: '0', to: '2' }), producer.usedBytes());
  assert.equal(producer.usedBytes(), 5 * 1004);
  assert.equal(one(m, 'shoal_ring_used_bytes', { from: '2', to: '0' }), 0);
  const consumer = new SpscRing(rings[0]![2]!, 0, CAP);
  consumer.drain(2, () => {});
  m = await read();
  assert.equal(one(m, 'shoal_ring_used_bytes', { from: '0', to: '2' }), 3 * 1004);
  // A restart gives the pair a fresh ring: the gauge reads the new one.
  rings[0]![2] = new SharedArrayBuffer(SpscRing.byteLength(CAP));
  m = await read();
  assert.equal(one(m, 'shoal_ring_used_bytes', { from: '0', to: '2' }), 0);
  assert.equal(one(m, 'shoal_ring_capacity_bytes', {}), CAP);
});

test('per-shard slots become per-shard series; shard_up follows the supervisor', async () => {
  const { stats, up, read } = setup();
  stats.add(1, Stat.MESSAGES_RECEIVED, 42);
  stats.add(2, Stat.DROPPED_QUEUE_FULL, 3);
  stats.set(0, Stat.LOOP_UTILISATION, 0.25);
  stats.addLive(2, 5);
  up[1] = false;
  const m = await read();
  assert.equal(one(m, 'shoal_messages_received_total', { shard: '1' }), 42);
  assert.equal(one(m, 'shoal_messages_received_total', { shard: '0' }), 0);
  assert.equal(one(m, 'shoal_messages_dropped_total', { shard: '2', cause: 'queue_full' }), 3);
  assert.equal(one(m, 'shoal_messages_dropped_total', { shard: '2', cause: 'store_full' }), 0);
  assert.equal(one(m, 'shoal_event_loop_utilization_ratio', { shard: '0' }), 0.25);
  assert.equal(one(m, 'shoal_sockets', { shard: '2' }), 5);
  assert.deepEqual(series(m, 'shoal_shard_up').map((d) => d.value), [1, 0, 1]);
  assert.equal(one(m, 'shoal_build_info', { version: '9.9.9' }), 1);
});

test('connections by transport and version, in-flight messages, spills per pair and the commit histogram come from their slots', async () => {
  const { stats, read } = setup();
  let m = await read();
  for (const name of ['shoal_connections_by_transport', 'shoal_inflight_messages', 'shoal_ring_pair_spills_total']) {
    assert.ok(series(m, name).every((d) => d.value === 0), `${name} is 0 before any shard counted`);
  }
  observeCommit(stats, 1, 0.003);
  observeCommit(stats, 1, 0.0004);
  observeCommit(stats, 1, 7);
  stats.add(1, Stat.CONNECTED_BY_KIND + connectedKind(KIND_TRANSPORTS.indexOf('wss'), 5), 2);
  stats.add(0, Stat.INFLIGHT, 7);
  stats.addPair(2, 0, PairStat.RING_SPILLED, 4);
  m = await read();
  assert.equal(series(m, 'shoal_connections_by_transport').length, N * 4 * 3);
  assert.equal(one(m, 'shoal_connections_by_transport', { shard: '1', transport: 'wss', protocol_version: '5' }), 2);
  assert.equal(one(m, 'shoal_connections_by_transport', { shard: '1', transport: 'wss', protocol_version: '4' }), 0);
  assert.equal(one(m, 'shoal_inflight_messages', { shard: '0' }), 7);
  assert.equal(series(m, 'shoal_ring_pair_spills_total').length, N * (N - 1));
  assert.equal(one(m, 'shoal_ring_pair_spills_total', { from: '2', to: '0' }), 4);
  assert.equal(one(m, 'shoal_ring_pair_spills_total', { from: '0', to: '2' }), 0);
  // Cumulative buckets, as Prometheus wants them, with the sum and count (parsed as a histogram).
  const h = series(m, 'shoal_store_commit_seconds') as unknown as { labels: Record<string, string>; buckets: Record<string, number>; count: number; sum: number }[];
  const s1 = h.find((d) => d.labels.shard === '1')!;
  assert.equal(s1.buckets['0.0005'], 1);
  assert.equal(s1.buckets['0.005'], 2);
  assert.equal(s1.buckets['1'], 2);
  assert.equal(s1.buckets['+Inf'], 3);
  assert.equal(s1.count, 3);
  assert.ok(Math.abs(s1.sum - 7.0034) < 1e-9);
  assert.equal(h.find((d) => d.labels.shard === '0')!.count, 0);
});

test('commit histogram read while a shard writes it: the count is the +Inf bucket (a scrape between the bucket and the count was malformed)', async () => {
  const { stats, read } = setup();
  observeCommit(stats, 2, 0.002);
  // The shard's first add of the next commit (its bucket), before its sum and count: what main can read mid-write.
  stats.add(2, Stat.COMMIT_LATENCY, 1);
  const m = await read();
  const h = series(m, 'shoal_store_commit_seconds') as unknown as { labels: Record<string, string>; buckets: Record<string, number>; count: number }[];
  const s2 = h.find((d) => d.labels.shard === '2')!;
  assert.equal(s2.buckets['+Inf'], 2);
  assert.equal(s2.count, s2.buckets['+Inf']);
});

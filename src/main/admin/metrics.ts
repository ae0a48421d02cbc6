// /metrics: Prometheus text format through prom-client, on a registry of its own. Every value is
// read at scrape time from the shared stats block and the rings' indices, so a scrape costs the
// shards nothing: they keep writing their rows as they always do.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BACKENDS, BackendStat, backendStat, ClusterStat, COMMIT_BOUNDS_S, connectedKind, KIND_TRANSPORTS, KIND_VERSIONS, PairStat, Stat, WithdrawStat, type StatsBlock } from '../../shared/stats.ts';
import { registerShardHistogram } from './histogram.ts';
import type { ShardsUp } from './health.ts';
import { RingGauges, type RingSource } from './rings.ts';
import { registerBridgeMetrics } from './bridge-metrics.ts';
import type { BridgeInfo } from '../../shared/admin-query.ts';
import type { ClusterView } from './cluster.ts';

export interface MetricsSources {
  stats: StatsBlock;
  shards: ShardsUp & RingSource;
  ringCapacity: number;
  version: string;
  /** The bridges' status (bridge-metrics.ts); absent: no bridge series. */
  bridges?: () => Promise<BridgeInfo[]>;
  /** This node's cluster part (docs/cluster.md); null or absent without --cluster-name. */
  cluster?: ClusterView | null;
}

type Labels = Record<string, string | number>;
type Emit = (labels: Labels, value: number) => void;
type Read = (emit: Emit) => void;

/**
 * A metric whose values are read when scraped. Labels are rebuilt every time, so a series
 * never outlives what it describes.
 */
function sampled(registry: Registry, kind: 'gauge' | 'counter', name: string, help: string, labelNames: string[], read: Read): void {
  if (kind === 'gauge') {
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() { this.reset(); read((l, v) => this.set(l, v)); },
    });
  } else {
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() { this.reset(); read((l, v) => this.inc(l, v)); },
    });
  }
}

export interface Metrics {
  readonly contentType: string;
  text(): Promise<string>;
}

export function createMetrics(src: MetricsSources): Metrics {
  const { stats, shards } = src;
  const registry = new Registry();
  const n = shards.count;
  const rings = new RingGauges(shards, src.ringCapacity);

  // One series per shard, from a function of the shard or from one stat slot.
  const perShardFn = (kind: 'gauge' | 'counter', name: string, help: string, read: (shard: number) => number): void =>
    sampled(registry, kind, name, help, ['shard'], (emit) => { for (let i = 0; i < n; i++) emit({ shard: i }, read(i)); });
  const perShard = (kind: 'gauge' | 'counter', name: string, help: string, stat: number): void =>
    perShardFn(kind, name, help, (i) => stats.get(i, stat));
  // One series per shard and value of `label`, each from its own slot.
  const perShardBy = (kind: 'gauge' | 'counter', name: string, help: string, label: string, slots: [string, number][]): void =>
    sampled(registry, kind, name, help, ['shard', label], (emit) => {
      for (let i = 0; i < n; i++) for (const [value, stat] of slots) emit({ shard: i, [label]: value }, stats.get(i, stat));
    });
  const single = (name: string, help: string, read: () => number): void =>
    sampled(registry, 'gauge', name, help, [], (emit) => emit({}, read()));

  sampled(registry, 'gauge', 'shoal_build_info', 'Shoal version (always 1)', ['version'], (emit) => emit({ version: src.version }, 1));
  single('shoal_shards', 'Shard (worker thread) count', () => n);
  perShardFn('gauge', 'shoal_shard_up', 'Whether the shard is running (0 while it starts or restarts)', (i) => (shards.isUp(i) ? 1 : 0));
  const cluster = src.cluster ?? null;
  if (cluster !== null) {
    single('shoal_cluster_connected', 'This cluster node is connected to NATS and joined (docs/cluster.md)', () => (cluster.connected ? 1 : 0));
    sampled(registry, 'gauge', 'shoal_cluster_nodes', 'Other nodes of the cluster by state (up: heartbeating; down: registered, silent)', ['state'], (emit) => {
      let up = 0;
      let down = 0;
      for (const x of cluster.nodes()) if (!x.self) { if (x.up) up++; else down++; }
      emit({ state: 'up' }, up);
      emit({ state: 'down' }, down);
    });
    // A shard cut off from NATS holds what other nodes want (worker/cluster/hold.ts).
    perShard('gauge', 'shoal_cluster_held_bytes', 'Bytes of frames for other nodes the shard holds while it is cut off from NATS', ClusterStat.HELD_BYTES);
    perShard('gauge', 'shoal_cluster_held_messages', 'Frames for other nodes the shard holds while it is cut off from NATS', ClusterStat.HELD_MESSAGES);
    perShard('counter', 'shoal_cluster_held_dropped_total', 'QoS 0 messages for other nodes dropped at --cluster-hold-bytes', ClusterStat.HELD_DROPPED);
  }

  // Connections
  perShard('gauge', 'shoal_connections', 'Client connections past CONNACK', Stat.CLIENTS_CONNECTED);
  perShardFn('gauge', 'shoal_sockets', 'Sockets the shard holds, including those not yet past CONNACK', (i) => stats.liveConnections(i));
  sampled(registry, 'gauge', 'shoal_connections_by_transport', 'Client connections past CONNACK by transport and MQTT protocol level (3 = 3.1, 4 = 3.1.1, 5 = 5.0)',
    ['shard', 'transport', 'protocol_version'], (emit) => {
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < KIND_TRANSPORTS.length; t++) {
          for (const v of KIND_VERSIONS) emit({ shard: i, transport: KIND_TRANSPORTS[t]!, protocol_version: v }, stats.get(i, Stat.CONNECTED_BY_KIND + connectedKind(t, v)));
        }
      }
    });
  perShard('counter', 'shoal_connects_total', 'Connections accepted with CONNACK 0x00', Stat.CONNECTS_TOTAL);
  perShard('counter', 'shoal_handshake_failures_total', 'TLS handshakes and WebSocket upgrades that failed, were refused or timed out', Stat.HANDSHAKES_FAILED);
  perShard('counter', 'shoal_protocol_errors_total', 'Connections closed for a protocol error', Stat.PROTOCOL_ERRORS);

  // Traffic
  perShard('counter', 'shoal_messages_received_total', 'PUBLISH packets received from clients', Stat.MESSAGES_RECEIVED);
  perShard('counter', 'shoal_messages_sent_total', 'PUBLISH packets sent to clients', Stat.MESSAGES_SENT);
  perShard('counter', 'shoal_packets_received_total', 'MQTT packets received from clients', Stat.PACKETS_RECEIVED);
  perShard('counter', 'shoal_packets_sent_total', 'MQTT packets sent to clients', Stat.PACKETS_SENT);
  perShard('counter', 'shoal_received_bytes_total', 'Bytes received from clients', Stat.BYTES_RECEIVED);
  perShard('counter', 'shoal_sent_bytes_total', 'Bytes sent to clients', Stat.BYTES_SENT);
  const byQos = (base: number): [string, number][] => [0, 1, 2].map((q) => [String(q), base + q]);
  perShardBy('counter', 'shoal_publish_received_total', 'PUBLISH packets received from clients, by QoS', 'qos', byQos(Stat.RECEIVED_BY_QOS));
  perShardBy('counter', 'shoal_publish_sent_total', 'PUBLISH packets sent to clients, by QoS', 'qos', byQos(Stat.SENT_BY_QOS));
  perShardBy('counter', 'shoal_messages_dropped_total', 'Messages not delivered, by cause', 'cause', [
    ['slow_client_qos0', Stat.DROPPED_QOS0], ['queue_full', Stat.DROPPED_QUEUE_FULL], ['store_full', Stat.DROPPED_STORE_FULL],
  ]);
  perShard('counter', 'shoal_messages_expired_total', 'Queued messages removed when their Message Expiry Interval passed', Stat.EXPIRED);
  perShardBy('counter', 'shoal_publishes_refused_total', 'QoS 1/2 publishes refused, by reason', 'reason', [['quota_exceeded', Stat.REFUSED_QUOTA]]);

  // Security (docs/security.md)
  perShard('counter', 'shoal_auth_failures_total', 'CONNECTs refused for a bad user name or password', Stat.AUTH_FAILED);
  perShardBy('counter', 'shoal_acl_denied_total', 'Operations the ACL refused, by operation', 'operation', [
    ['publish', Stat.ACL_DENIED_PUBLISH], ['subscribe', Stat.ACL_DENIED_SUBSCRIBE], ['delivery', Stat.ACL_DENIED_DELIVERY], ['will', Stat.ACL_DENIED_WILL],
  ]);
  perShardBy('counter', 'shoal_limit_hits_total', 'Times a configured limit was hit, by limit', 'limit', [
    ['max_connections', Stat.LIMIT_CONNECTIONS], ['max_connections_per_ip', Stat.LIMIT_CONNECTIONS_PER_IP], ['connect_rate', Stat.LIMIT_CONNECT_RATE],
    ['publish_rate', Stat.LIMIT_PUBLISH_RATE], ['topic', Stat.LIMIT_TOPIC], ['subscriptions', Stat.LIMIT_SUBSCRIPTIONS],
    ['retained', Stat.LIMIT_RETAINED], ['client_id_prefix', Stat.LIMIT_CLIENT_ID],
    ['persistent_client_expiration', Stat.LIMIT_SESSION_EXPIRY],
  ]);

  // First-party auth backends (docs/hooks.md), as each shard sees them
  const byBackend = (stat: number): [string, number][] => BACKENDS.map((b, i) => [b, backendStat(i, stat)]);
  perShardBy('counter', 'shoal_backend_requests_total', 'Questions sent to an auth backend (cache misses), by backend', 'backend', byBackend(BackendStat.REQUESTS));
  perShardBy('counter', 'shoal_backend_errors_total', 'Questions to an auth backend that failed (unreachable, refused, an error answer), by backend', 'backend', byBackend(BackendStat.ERRORS));
  perShardBy('counter', 'shoal_backend_timeouts_total', 'Questions to an auth backend that got no answer within its timeoutMs, by backend', 'backend', byBackend(BackendStat.TIMEOUTS));
  perShardBy('gauge', 'shoal_backend_down', '1 while the shard\'s last question to the backend failed or timed out (its answer is onError)', 'backend', byBackend(BackendStat.DOWN));

  // State
  perShard('gauge', 'shoal_queued_messages', 'Messages waiting in session queues', Stat.QUEUED);
  perShard('gauge', 'shoal_queued_bytes', 'Payload and topic bytes waiting in session queues', Stat.QUEUED_BYTES);
  sampled(registry, 'gauge', 'shoal_inflight_messages', 'Outbound QoS 1/2 messages not yet acknowledged', ['shard'], (emit) => {
    for (let i = 0; i < n; i++) emit({ shard: i }, stats.get(i, Stat.INFLIGHT));
  });
  perShard('gauge', 'shoal_subscriptions', 'Subscriptions held (online and offline sessions)', Stat.SUBSCRIPTIONS);
  perShard('gauge', 'shoal_sessions_offline', 'Persistent sessions without a connection', Stat.SESSIONS_OFFLINE);
  perShard('gauge', 'shoal_sessions_persistent', 'Persistent sessions owned by the shard', Stat.PERSISTENT_SESSIONS);
  // Every shard keeps a replica of the retained set and polls the same store: the largest row is the broker's figure.
  single('shoal_retained_messages', 'Retained messages', () => stats.max(Stat.RETAINED));
  single('shoal_store_bytes', 'Live bytes in the store', () => stats.max(Stat.STORE_BYTES));
  registerShardHistogram(registry, stats, n, {
    name: 'shoal_store_commit_seconds', help: 'Store group commits (one event-loop turn\'s writes) by how long they took to commit',
    bounds: COMMIT_BOUNDS_S, firstSlot: Stat.COMMIT_LATENCY,
  });

  // Rings between shards
  single('shoal_ring_capacity_bytes', 'Capacity of each shard-pair ring', () => rings.capacity);
  sampled(registry, 'gauge', 'shoal_ring_used_bytes', 'Bytes written and not yet read in the ring from one shard to another', ['from', 'to'], (emit) => {
    for (let f = 0; f < n; f++) for (let t = 0; t < n; t++) if (f !== t) emit({ from: f, to: t }, rings.usedBytes(f, t));
  });
  perShard('counter', 'shoal_route_withdraws_total', 'Routes the shard withdrew from its peers because everyone it had on them would only drop (announced, or renewed)', WithdrawStat.ANNOUNCED);
  perShard('gauge', 'shoal_routes_withdrawn', 'Filters of the shard withdrawn from its peers now (everyone on them would only drop)', WithdrawStat.ROUTES);
  perShard('counter', 'shoal_forwards_skipped_total', 'Messages the shard did not write into a peer\'s ring because every route there they matched was withdrawn (their drops are counted in shoal_messages_dropped_total, by this shard)', WithdrawStat.SKIPPED);
  perShard('counter', 'shoal_ring_spills_total', 'Frames the shard sent that found a ring full and waited in its spill queue', Stat.RING_SPILLED);
  sampled(registry, 'counter', 'shoal_ring_pair_spills_total', 'Frames that found the ring from one shard to another full', ['from', 'to'], (emit) => {
    for (let f = 0; f < n; f++) for (let t = 0; t < n; t++) if (f !== t) emit({ from: f, to: t }, stats.getPair(f, t, PairStat.RING_SPILLED));
  });

  // Event loops of the shards (src/worker/loop-stats.ts); main's own are nodejs_eventloop_* below.
  perShard('gauge', 'shoal_event_loop_delay_p50_seconds', 'Median event-loop delay of the shard over the last second', Stat.LOOP_DELAY_P50);
  perShard('gauge', 'shoal_event_loop_delay_p99_seconds', '99th percentile event-loop delay of the shard over the last second', Stat.LOOP_DELAY_P99);
  perShard('gauge', 'shoal_event_loop_delay_max_seconds', 'Largest event-loop delay of the shard over the last second', Stat.LOOP_DELAY_MAX);
  perShard('gauge', 'shoal_event_loop_utilization_ratio', 'Share of the last second the shard\'s event loop was busy (0..1)', Stat.LOOP_UTILISATION);

  // The process (CPU, memory of all threads) and main's event loop and heap. Of main's loop-delay
  // gauges, those an empty sampling interval makes meaningless go: prom-client writes its mean and
  // standard deviation as "Nan" then, and its minimum as 9.2e9 seconds.
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_stddev_seconds']) registry.removeSingleMetric(name);

  if (src.bridges !== undefined) registerBridgeMetrics(registry, src.bridges);
  return { contentType: registry.contentType, text: () => registry.metrics() };
}

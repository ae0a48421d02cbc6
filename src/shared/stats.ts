// One shared block of counters: each shard writes only its own row; main reads all rows to
// pick a shard and to publish $SYS. Plain Float64 stores (single writer, aligned) are enough
// for monitoring figures; the live-connection count that placement depends on is an Int32
// updated with Atomics because two threads write it (main +1 on hand-off, shard -1 on close).
import { ADDRESS_TABLE_BYTES, AddressTable } from './address-table.ts';

export const Stat = {
  CLIENTS_CONNECTED: 0,     // connections past CONNACK
  MESSAGES_RECEIVED: 1,     // PUBLISH packets from clients
  MESSAGES_SENT: 2,         // PUBLISH packets to clients
  BYTES_RECEIVED: 3,
  BYTES_SENT: 4,
  SUBSCRIPTIONS: 5,         // subscriptions held on this shard (online and offline sessions)
  RETAINED: 6,              // retained messages in this shard's replica
  DROPPED_QOS0: 7,          // QoS 0 messages dropped for slow clients
  DROPPED_QUEUE_FULL: 8,    // QoS 1/2 dropped at the per-session queue bound
  QUEUED: 9,                // messages waiting in session queues
  SESSIONS_OFFLINE: 10,     // persistent sessions without a connection
  RING_SPILLED: 11,         // frames that found a ring full and waited in a spill queue
  CONNECTS_TOTAL: 12,
  PROTOCOL_ERRORS: 13,
  PACKETS_RECEIVED: 14,
  PACKETS_SENT: 15,
  DROPPED_STORE_FULL: 16,   // QoS 1/2 not queued because the store was at --max-store-bytes
  REFUSED_QUOTA: 17,        // v5 QoS 1/2 publishes answered 0x97 (store full)
  QUEUED_BYTES: 18,         // payload + topic bytes waiting in session queues
  STORE_BYTES: 19,          // live bytes in the store (polled; the same value in every row)
  EXPIRED: 20,              // queued messages removed because their expiry passed
  PERSISTENT_SESSIONS: 21,  // persistent sessions owned by the shard: peers skip the commit barrier when 0
  HANDSHAKES_FAILED: 22,    // TLS handshakes / WebSocket upgrades that failed, were refused or timed out
  INFLIGHT: 23,             // outbound QoS 1/2 messages sent and not yet acknowledged
  // Event-loop figures of the last sampling interval (src/worker/loop-stats.ts, only with the
  // admin port on): delay percentiles in seconds, utilisation as a ratio 0..1.
  LOOP_DELAY_P50: 24,
  LOOP_DELAY_P99: 25,
  LOOP_DELAY_MAX: 26,
  LOOP_UTILISATION: 27,
  // CONNECTED_BY_KIND .. +11: connections past CONNACK by transport and protocol version,
  // slot CONNECTED_BY_KIND + connectedKind(transport, version) (see below).
  CONNECTED_BY_KIND: 28,
  // PUBLISH packets by QoS: RECEIVED_BY_QOS + qos (from clients), SENT_BY_QOS + qos (to clients).
  RECEIVED_BY_QOS: 40,
  SENT_BY_QOS: 43,
  // Security (docs/security.md): refusals and denials, each counted where it happens.
  AUTH_FAILED: 46,          // CONNECTs refused for a bad user name or password
  ACL_DENIED_PUBLISH: 47,   // PUBLISH refused by the ACL (v5 QoS 1/2: 0x87; else dropped)
  ACL_DENIED_SUBSCRIBE: 48, // SUBSCRIBE filters refused by the ACL (0x87 / 0x80)
  ACL_DENIED_DELIVERY: 49,  // messages not delivered to a subscriber the ACL does not let read them
  ACL_DENIED_WILL: 50,      // wills not published: the client may not write their topic
  LIMIT_CONNECTIONS: 51,    // CONNECTs refused at --max-connections
  LIMIT_CONNECTIONS_PER_IP: 52, // sockets closed at --max-connections-per-ip
  LIMIT_CONNECT_RATE: 53,   // sockets closed at --connect-rate
  LIMIT_PUBLISH_RATE: 54,   // times a client's reads paused at --max-publish-rate / --max-publish-bytes
  LIMIT_TOPIC: 55,          // topics or filters refused at --max-topic-levels / --max-topic-length
  LIMIT_SUBSCRIPTIONS: 56,  // filters refused at --max-subscriptions-per-client
  LIMIT_RETAINED: 57,       // retained sets refused at --max-retained-messages / --max-retained-bytes
  LIMIT_CLIENT_ID: 58,      // CONNECTs refused by --client-id-prefixes (0x85)
  LIMIT_SESSION_EXPIRY: 59, // offline sessions ended by --persistent-client-expiration (they asked never to expire)
  // Store commit latency (one group commit: a turn's writes), a histogram: COMMIT_BUCKETS slots
  // of counts by upper bound (COMMIT_BOUNDS_S, the last one +Inf), then the sum in seconds and the count.
  COMMIT_LATENCY: 60,
} as const;

/** Upper bounds (seconds) of the commit-latency buckets; one more slot counts those above the last. */
export const COMMIT_BOUNDS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;
export const COMMIT_BUCKETS = COMMIT_BOUNDS_S.length + 1;
export const COMMIT_SUM = Stat.COMMIT_LATENCY + COMMIT_BUCKETS;
export const COMMIT_COUNT = COMMIT_SUM + 1;

/** The first-party auth backends (src/worker/hooks/backends), in the order of their slots. */
export const BACKENDS = ['http', 'redis', 'postgres'] as const;
export type BackendName = (typeof BACKENDS)[number];
/**
 * Per backend: questions asked (cache misses), failures, timeouts (counters), and 1 while the
 * shard's last question failed (an outage as that shard sees it).
 */
export const BackendStat = { REQUESTS: 0, ERRORS: 1, TIMEOUTS: 2, DOWN: 3 } as const;
const BACKEND_SLOTS = 4;
const BACKEND_STATS = COMMIT_COUNT + 1;
/** The slot of `stat` (BackendStat) for the backend at `index` in BACKENDS. */
export function backendStat(index: number, stat: number): number { return BACKEND_STATS + index * BACKEND_SLOTS + stat; }
/**
 * A shard cut off from NATS (worker/cluster/hold.ts): frames for other nodes it holds (bytes,
 * messages: gauges) and QoS 0 ones dropped at --cluster-hold-bytes (a counter).
 */
export const ClusterStat = {
  HELD_BYTES: BACKEND_STATS + BACKENDS.length * BACKEND_SLOTS,
  HELD_MESSAGES: BACKEND_STATS + BACKENDS.length * BACKEND_SLOTS + 1,
  HELD_DROPPED: BACKEND_STATS + BACKENDS.length * BACKEND_SLOTS + 2,
} as const;
/**
 * Withdrawn routes (worker/routing/withdraw.ts): routes this shard withdrew because everyone it
 * had on them would only drop (counter), and messages this shard's publishers did not write
 * into a peer's ring because every route of that peer they matched was withdrawn (counter;
 * their drops are counted here in DROPPED_QOS0 / DROPPED_QUEUE_FULL, in the peer's place).
 */
export const WithdrawStat = {
  ANNOUNCED: ClusterStat.HELD_DROPPED + 1,
  SKIPPED: ClusterStat.HELD_DROPPED + 2,
  ROUTES: ClusterStat.HELD_DROPPED + 3,   // filters of this shard withdrawn now, for either class (gauge)
} as const;
export const STAT_COUNT = WithdrawStat.ROUTES + 1;

/** Counts one store commit of `seconds` into the shard's histogram slots (three Float64 adds). */
export function observeCommit(stats: StatsBlock, shard: number, seconds: number): void {
  let b = 0;
  while (b < COMMIT_BOUNDS_S.length && seconds > COMMIT_BOUNDS_S[b]!) b++;
  stats.add(shard, Stat.COMMIT_LATENCY + b, 1);
  stats.add(shard, COMMIT_SUM, seconds);
  stats.add(shard, COMMIT_COUNT, 1);
}

/** The transport index (KIND_TRANSPORTS) of a transport name. */
export function transportIndex(transport: string): number {
  return (KIND_TRANSPORTS as readonly string[]).indexOf(transport);
}

/** Transports and protocol versions in the order of the CONNECTED_BY_KIND slots. */
export const KIND_TRANSPORTS = ['tcp', 'tls', 'ws', 'wss'] as const;
export const KIND_VERSIONS = [3, 4, 5] as const;
/** Offset from Stat.CONNECTED_BY_KIND for a transport index (KIND_TRANSPORTS) and MQTT protocol level 3..5. */
export function connectedKind(transport: number, protocolVersion: number): number {
  return transport * KIND_VERSIONS.length + (protocolVersion - 3);
}

/** Counters kept per ordered shard pair (from, to), e.g. frames that found that pair's ring full. */
export const PairStat = {
  RING_SPILLED: 0,
} as const;
export const PAIR_STAT_COUNT = 1;

export class StatsBlock {
  readonly sab: SharedArrayBuffer;
  readonly shards: number;
  /** per client address counters shared by the shards (address-table.ts), after the pair counters */
  readonly addresses: AddressTable;
  private readonly live: Int32Array;
  private readonly values: Float64Array;
  private readonly pairs: Float64Array;

  constructor(shards: number, sab?: SharedArrayBuffer) {
    this.shards = shards;
    // Int32 live counts first, padded to 8-byte alignment, then a Float64 row per shard, then
    // the per-pair counters (shards x shards x PAIR_STAT_COUNT, written by the `from` shard).
    const liveBytes = Math.ceil((shards * 4) / 8) * 8;
    const rowBytes = shards * STAT_COUNT * 8;
    const pairBytes = shards * shards * PAIR_STAT_COUNT * 8;
    this.sab = sab ?? new SharedArrayBuffer(liveBytes + rowBytes + pairBytes + ADDRESS_TABLE_BYTES);
    this.live = new Int32Array(this.sab, 0, shards);
    this.values = new Float64Array(this.sab, liveBytes, shards * STAT_COUNT);
    this.pairs = new Float64Array(this.sab, liveBytes + rowBytes, shards * shards * PAIR_STAT_COUNT);
    this.addresses = new AddressTable(this.sab, liveBytes + rowBytes + pairBytes);
  }

  liveConnections(shard: number): number { return Atomics.load(this.live, shard); }
  addLive(shard: number, delta: number): void { Atomics.add(this.live, shard, delta); }
  resetLive(shard: number): void { Atomics.store(this.live, shard, 0); }

  /** The shard with the fewest live connections (ties: the lowest index). */
  leastLoaded(alive: (shard: number) => boolean): number {
    let best = -1;
    let bestCount = Infinity;
    for (let i = 0; i < this.shards; i++) {
      if (!alive(i)) continue;
      const c = Atomics.load(this.live, i);
      if (c < bestCount) { best = i; bestCount = c; }
    }
    return best;
  }

  add(shard: number, stat: number, delta: number): void { this.values[shard * STAT_COUNT + stat]! += delta; }
  set(shard: number, stat: number, value: number): void { this.values[shard * STAT_COUNT + stat] = value; }
  get(shard: number, stat: number): number { return this.values[shard * STAT_COUNT + stat]!; }
  sum(stat: number): number {
    let s = 0;
    for (let i = 0; i < this.shards; i++) s += this.values[i * STAT_COUNT + stat]!;
    return s;
  }
  max(stat: number): number {
    let m = 0;
    for (let i = 0; i < this.shards; i++) m = Math.max(m, this.values[i * STAT_COUNT + stat]!);
    return m;
  }
  addPair(from: number, to: number, stat: number, delta: number): void { this.pairs[(from * this.shards + to) * PAIR_STAT_COUNT + stat]! += delta; }
  getPair(from: number, to: number, stat: number): number { return this.pairs[(from * this.shards + to) * PAIR_STAT_COUNT + stat]!; }

  /** A restarted shard starts from zero for its gauges; counters it had are kept in `carry`. */
  resetRow(shard: number, keep: readonly number[]): void {
    for (let s = 0; s < STAT_COUNT; s++) if (!keep.includes(s)) this.values[shard * STAT_COUNT + s] = 0;
  }
}

// The REST endpoints main answers from the shared stats block alone (comqtt's mqtt/rest paths
// and shapes: a bare JSON value on success). Those that need a shard's answer (clients,
// subscriptions, kick, blacklist, publish) go through shard-query.ts.
import { Stat, type StatsBlock } from '../../shared/stats.ts';
import { sendJson } from './respond.ts';
import type { Route } from './server.ts';

export interface RestSources {
  stats: StatsBlock;
  version: string;
  /** Shard count: `threads` counts them and main. */
  shards: number;
  config: Record<string, unknown>;
}

/** comqtt's system.Info, the answer of GET /api/v1/mqtt/stat/overall. */
export interface OverallInfo {
  version: string;
  started: number;
  time: number;
  uptime: number;
  bytes_received: number;
  bytes_sent: number;
  clients_connected: number;
  clients_disconnected: number;
  clients_maximum: number;
  clients_total: number;
  messages_received: number;
  messages_sent: number;
  messages_dropped: number;
  retained: number;
  inflight: number;
  inflight_dropped: number;
  subscriptions: number;
  packets_received: number;
  packets_sent: number;
  memory_alloc: number;
  threads: number;
}

const PEAK_SAMPLE_MS = 1000;

export class Rest {
  private readonly src: RestSources;
  private readonly started = Math.floor(Date.now() / 1000);
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(src: RestSources) {
    this.src = src;
    // clients_maximum is a high-water mark: sampled every second (main only reads the block).
    this.timer = setInterval(() => this.online(), PEAK_SAMPLE_MS);
    this.timer.unref();
  }

  close(): void { clearInterval(this.timer); }

  online(): number {
    const n = this.src.stats.sum(Stat.CLIENTS_CONNECTED);
    if (n > this.peak) this.peak = n;
    return n;
  }

  overall(): OverallInfo {
    const s = this.src.stats;
    const now = Math.floor(Date.now() / 1000);
    const connected = this.online();
    const offline = s.sum(Stat.SESSIONS_OFFLINE);
    return {
      version: this.src.version,
      started: this.started,
      time: now,
      uptime: now - this.started,
      bytes_received: s.sum(Stat.BYTES_RECEIVED),
      bytes_sent: s.sum(Stat.BYTES_SENT),
      clients_connected: connected,
      clients_disconnected: offline,
      clients_maximum: this.peak,
      clients_total: connected + offline,
      messages_received: s.sum(Stat.MESSAGES_RECEIVED),
      messages_sent: s.sum(Stat.MESSAGES_SENT),
      messages_dropped: s.sum(Stat.DROPPED_QOS0) + s.sum(Stat.DROPPED_QUEUE_FULL) + s.sum(Stat.DROPPED_STORE_FULL),
      retained: s.max(Stat.RETAINED),
      inflight: s.sum(Stat.INFLIGHT),
      inflight_dropped: 0, // not counted by Shoal: the field is kept for comqtt clients
      subscriptions: s.sum(Stat.SUBSCRIPTIONS),
      packets_received: s.sum(Stat.PACKETS_RECEIVED),
      packets_sent: s.sum(Stat.PACKETS_SENT),
      memory_alloc: process.memoryUsage.rss(), // every thread's memory, not main's heap alone
      threads: this.src.shards + 1,
    };
  }

  routes(): Route[] {
    return [
      { method: 'GET', path: '/api/v1/mqtt/config', handler: (_req, res) => sendJson(res, 200, this.src.config) },
      { method: 'GET', path: '/api/v1/mqtt/stat/overall', handler: (_req, res) => sendJson(res, 200, this.overall()) },
      { method: 'GET', path: '/api/v1/mqtt/stat/online', handler: (_req, res) => sendJson(res, 200, this.online()) },
    ];
  }
}

// The admin port as main starts it: health, readiness, /metrics and the REST API, each given
// only what it reads (docs/operations.md).
import net from 'node:net';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../shared/config.ts';
import type { StatsBlock } from '../../shared/stats.ts';
import { bearerAuth } from './auth.ts';
import { configView } from './config-view.ts';
import { Readiness, type ShardsUp } from './health.ts';
import { createMetrics } from './metrics.ts';
import { sendJson } from './respond.ts';
import { Rest } from './rest.ts';
import { apiRoutes } from './api.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { Sampler } from './dashboard/sampler.ts';
import type { BrokerControl } from '../control/index.ts';
import { pairRingCapacity } from '../../shared/ring/index.ts';
import type { RingSource } from './rings.ts';
import { startHttp, type Route } from './server.ts';
import { clusterRoutes, type ClusterView } from './cluster.ts';

export interface AdminSources {
  stats: StatsBlock;
  shards: ShardsUp & RingSource & { readonly bridgeCount: number };
  version: string;
  log: Logger;
  /** The shards as a whole, over the control channel (src/main/control). */
  control: BrokerControl;
  /** This node's cluster part; null without --cluster-name. */
  cluster?: ClusterView | null;
}

export interface AdminPort {
  readonly url: string;
  /** Every MQTT listener is bound: /ready may answer 200 from now on. */
  listening(): void;
  /** Shutdown has begun: /ready answers 503 until the process exits. */
  stopping(): void;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** Null when --http-port is not given (the admin port costs nothing then). */
export async function startAdminPort(config: BrokerConfig, src: AdminSources): Promise<AdminPort | null> {
  if (config.httpPort === null) return null;
  const readiness = new Readiness(src.shards, src.cluster ?? null);
  const metrics = createMetrics({
    stats: src.stats, shards: src.shards, ringCapacity: pairRingCapacity(config.ringCapacity, config.shards), version: src.version, cluster: src.cluster ?? null,
    // Always registered: a SIGHUP may add bridges to a broker that started with none; the shards
    // are asked only while some are configured.
    bridges: async () => (src.shards.bridgeCount === 0 ? [] : (await src.control.bridges()).value),
  });
  const rest = new Rest({ stats: src.stats, version: src.version, shards: src.shards.count, config: configView(config) });
  const sampler = new Sampler(src.stats, src.shards);
  const started = Date.now();
  const routes: Route[] = [
    { method: 'GET', path: '/health', open: true, handler: (_req, res) => sendJson(res, 200, { status: 'ok', uptime_seconds: Math.floor((Date.now() - started) / 1000) }) },
    { method: 'GET', path: '/ready', handler: (_req, res) => { const r = readiness.check(); sendJson(res, r.ready ? 200 : 503, r); } },
    {
      method: 'GET', path: '/metrics', handler: async (_req, res) => {
        const body = await metrics.text();
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    },
    ...rest.routes(),
    ...apiRoutes(src.control),
    ...clusterRoutes(src.cluster ?? null),
    ...dashboardRoutes(sampler),
  ];
  const http = await startHttp({ host: config.httpHost, port: config.httpPort, authorize: bearerAuth(config.httpToken), routes, log: src.log });
  if (config.httpToken === '' && !isLoopback(config.httpHost)) {
    src.log.warn({ host: config.httpHost }, 'admin HTTP port reachable from other hosts without a token: set --http-token or SHOAL_HTTP_TOKEN');
  }
  src.log.info({ url: http.url }, 'admin HTTP listening');
  return {
    url: http.url,
    listening: () => readiness.listening(),
    stopping: () => readiness.stopping(),
    close: async () => { rest.close(); sampler.close(); await http.close(); },
  };
}

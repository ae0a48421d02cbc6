// The REST API's cluster endpoints (comqtt's /api/v1/cluster/ list; docs/cluster.md). Main's
// cluster part answers them; a node started without --cluster-name answers 404
// SHOAL_HTTP_NOT_A_CLUSTER, so the paths exist (and are documented) either way.
import { ErrorCode } from '../../shared/errors.ts';
import { sendError, sendJson } from './respond.ts';
import type { Route } from './server.ts';

/** What the endpoints and /ready read of the node's cluster part (src/main/cluster). */
export interface ClusterView {
  readonly nodeId: string;
  /** Connected to NATS and joined. */
  readonly connected: boolean;
  nodes(): { node: string; self: boolean; up: boolean; shards: number; filters: number }[];
  online(): Promise<{ node: string; online: number | null }[]>;
  /** The cluster blacklist (a KV bucket every node's ban list follows); reject when NATS is away. */
  ban(id: string, on: boolean): Promise<boolean>;
  banned(): Promise<string[]>;
  /** Who owns a client id cluster-wide (null: nobody); reject when NATS is away. */
  client(id: string): Promise<{ id: string; node: string; since: string; connected: boolean | null } | null>;
}

export function clusterRoutes(cluster: ClusterView | null): Route[] {
  const none = (res: Parameters<Route['handler']>[1]): void => sendError(res, 404, ErrorCode.HTTP_NOT_A_CLUSTER, 'this node is not part of a cluster (--cluster-name)');
  /** 503 SHOAL_HTTP_CLUSTER_UNAVAILABLE when NATS does not answer (the node is cut off). */
  const withNats = async (res: Parameters<Route['handler']>[1], work: (c: ClusterView) => Promise<void>): Promise<void> => {
    if (cluster === null) { none(res); return; }
    try { await work(cluster); } catch (err) { sendError(res, 503, ErrorCode.HTTP_CLUSTER_UNAVAILABLE, `the cluster's NATS did not answer: ${(err as Error).message}`); }
  };
  return [
    { method: 'GET', path: '/api/v1/cluster/blacklist', handler: (_req, res) => withNats(res, async (c) => sendJson(res, 200, await c.banned())) },
    { method: 'POST', path: '/api/v1/cluster/blacklist/{id}', handler: (_req, res, _url, { id }) => withNats(res, async (c) => { await c.ban(id!, true); sendJson(res, 200, id); }) },
    {
      method: 'DELETE', path: '/api/v1/cluster/blacklist/{id}', handler: (_req, res, _url, { id }) => withNats(res, async (c) => {
        if (await c.ban(id!, false)) sendJson(res, 200, id);
        else sendError(res, 404, ErrorCode.HTTP_NOT_BANNED, `client id ${JSON.stringify(id)} is not on the cluster blacklist`);
      }),
    },
    {
      method: 'GET', path: '/api/v1/cluster/clients/{id}', handler: (_req, res, _url, { id }) => withNats(res, async (c) => {
        const o = await c.client(id!);
        if (o === null) sendError(res, 404, ErrorCode.HTTP_CLIENT_NOT_FOUND, `no node of the cluster owns client id ${JSON.stringify(id)}`);
        else sendJson(res, 200, o);
      }),
    },
    { method: 'GET', path: '/api/v1/cluster/nodes', handler: (_req, res) => { if (cluster === null) none(res); else sendJson(res, 200, cluster.nodes()); } },
    {
      method: 'GET', path: '/api/v1/cluster/stat/online', handler: async (_req, res) => {
        if (cluster === null) { none(res); return; }
        const nodes = await cluster.online();
        sendJson(res, 200, { total: nodes.reduce((t, n) => t + (n.online ?? 0), 0), nodes });
      },
    },
  ];
}

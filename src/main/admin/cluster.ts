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
}

export function clusterRoutes(cluster: ClusterView | null): Route[] {
  const none = (res: Parameters<Route['handler']>[1]): void => sendError(res, 404, ErrorCode.HTTP_NOT_A_CLUSTER, 'this node is not part of a cluster (--cluster-name)');
  return [
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

// Messages between main and the shards over the workers' MessagePorts. These are rare control
// events (start, restart, $SYS every few seconds, shutdown), never per message, so structured
// clone is fine here; the data path uses the rings.
import type { SecurityFiles } from './auth/files.ts';
import type { Socket } from 'node:net';
import type { BrokerConfig } from './config.ts';
import type { BridgeConfig } from './config/bridges.ts';
import type { TlsMaterial, Transport } from './tls.ts';
import type { AdminQuery } from './admin-query.ts';
import type { MoveSenders, NodeMoveId } from './cluster/moves.ts';

/** Ring buffers to and from one other shard (one SharedArrayBuffer each, allocated by main). */
export interface PeerRings { out: SharedArrayBuffer; in: SharedArrayBuffer }

/** What a shard needs of one listener; main tags each socket it transfers with the listener's index. */
export interface ShardListener {
  transport: Transport;
  tls: TlsMaterial | null;      // tls and wss: this listener's certificate, key and client-certificate rules
  path: string;                 // ws and wss: the only upgrade path ('' = any)
}

export interface ShardInit {
  id: number;
  count: number;
  config: BrokerConfig;
  statsSab: SharedArrayBuffer;
  bellSab: SharedArrayBuffer;
  rings: (PeerRings | null)[];
  restart: boolean;
  listeners: ShardListener[];   // by index, as in listenersOf(config)
  security: SecurityFiles;      // the password / ACL file texts main holds (read at start, replaced by SIGHUP)
}

export type ControlToShard =
  | { type: 'socket'; socket: Socket; transport: Transport; listener: number } // the socket is transferred, not cloned
  | { type: 'sys'; items: [string, string][] }
  | { type: 'peer-restarted'; peer: number; rings: PeerRings }
  | { type: 'listen'; host: string; port: number }
  | { type: 'unlisten' }
  // SIGHUP: the password and ACL files' texts main read and parsed (null: not configured, or
  // the new file failed and the old one stays), and the listeners with fresh TLS material
  // (null: unchanged). Nothing here drops a connection.
  | { type: 'reload'; passwordText: string | null; aclText: string | null; listeners: ShardListener[] | null; bridges: BridgeConfig[] | null }
  | { type: 'shutdown' }
  // A question or order of the admin port or the embedding API (src/main/control): one answer each, by `seq`.
  | { type: 'query'; seq: number; query: AdminQuery }
  | ClusterToShard;

/**
 * Main's cluster part to the shards (src/main/cluster → src/worker/cluster, docs/cluster.md):
 * another node up or down with its shard count, a filter another node gained or lost, another
 * node's member count of a shared group.
 */
export type ClusterToShard =
  | { type: 'cluster-node'; node: string; shards: number; up: boolean }
  | { type: 'cluster-route'; node: string; add: boolean; filter: string }
  | { type: 'cluster-share'; node: string; key: string; count: number }
  // A session moves between nodes: put your markers into your streams to both of its ends.
  | { type: 'cluster-mark'; move: NodeMoveId; senders: MoveSenders };

/** What the embedding API's events hook sends while main has listeners (src/worker/embed/). */
export type EmbedEvent = { type: 'embed-event'; name: 'client:connect' | 'client:disconnect' | 'subscribe' | 'unsubscribe'; data: Record<string, unknown> };

export type ControlFromShard =
  | { type: 'ready' }
  | { type: 'fatal'; code: string; message: string }
  | { type: 'listening' }
  | { type: 'listen-failed'; code: string }
  | { type: 'stopped' }
  | { type: 'answer'; seq: number; ok: true; value: unknown }
  // code: the stable error code (src/shared/errors.ts) when the refusal has one
  | { type: 'answer'; seq: number; ok: false; error: string; code?: string }
  // This shard gained its first / lost its last subscriber for a filter (main announces the node's).
  | { type: 'cluster-local-route'; add: boolean; filter: string }
  // This shard's member count of a shared group (group + NUL + filter) changed.
  | { type: 'cluster-local-share'; key: string; count: number }
  // A session arrived from another node and its routes are known on this node: ask every node for its markers.
  | { type: 'cluster-move'; move: NodeMoveId; filters: string[] }
  | EmbedEvent;

// The names a cluster uses on NATS (docs/cluster.md), in one place for main and the shards.
// Node ids and cluster names are letters, digits, - and _ (config/validate.ts), so they are
// single NATS subject tokens; filters are not, so route keys carry them in base64url.

export const HEARTBEAT_MS = 1000;
/** A node silent this long is down (3 heartbeats). */
export const DOWN_AFTER_MS = 3 * HEARTBEAT_MS;

/**
 * Where node `node`'s shard `shard` receives the messages other nodes forward to it: this
 * subject and two more tokens, the sending node and shard (`fromSubject`), so that the receiver
 * can name a message's publishing shard while a session moves between nodes (node-moves.ts).
 */
export function messageSubject(cluster: string, node: string, shard: number): string {
  return `shoal.${cluster}.m.${node}.${shard}`;
}

/** The subject shard `fromShard` of node `fromNode` sends node `node`'s shard `shard` its messages on. */
export function fromSubject(cluster: string, node: string, shard: number, fromNode: string, fromShard: number): string {
  return `${messageSubject(cluster, node, shard)}.${fromNode}.${fromShard}`;
}

/** Where node `node`'s shard `shard` gets what the other end of a session's move between nodes sends it. */
export function moveSubject(cluster: string, node: string, shard: number): string { return `shoal.${cluster}.mv.${node}.${shard}`; }

/** Where node `node`'s main is asked to have its shards mark their streams for a move between nodes. */
export function markSubject(cluster: string, node: string): string { return `shoal.${cluster}.mark.${node}`; }

export function heartbeatSubject(cluster: string): string { return `shoal.${cluster}.hb`; }

/** Where node `node`'s main answers questions about itself (REST: clients online). */
export function statSubject(cluster: string, node: string): string { return `shoal.${cluster}.stat.${node}`; }

export function nodesBucket(cluster: string): string { return `shoal_${cluster}_nodes`; }
export function routesBucket(cluster: string): string { return `shoal_${cluster}_routes`; }
/** Retained messages, one key per topic (file storage: they outlive every node). */
export function retainedBucket(cluster: string): string { return `shoal_${cluster}_retained`; }

/** Client ids banned cluster-wide (file storage), one key per id; every node's ban list follows it. */
export function bannedBucket(cluster: string): string { return `shoal_${cluster}_banned`; }

/** Client-id ownership (file storage), one key per id (base64url): which node owns the session (docs/cluster.md). */
export function clientsBucket(cluster: string): string { return `shoal_${cluster}_clients`; }

/** Where shard `shard` of node `node` hands over the sessions of client ids homed on it to the node that claimed them. */
export function ownSubject(cluster: string, node: string, shard: number): string { return `shoal.${cluster}.own.${node}.${shard}`; }

/** Where node `node`'s main says whether a client id is connected there (REST: cluster clients). */
export function clientSubject(cluster: string, node: string): string { return `shoal.${cluster}.client.${node}`; }

/** The clients bucket's value: the owning node and since when (ms since the epoch). */
export interface OwnerRecord { node: string; since: number }

export function parseOwner(data: Uint8Array): OwnerRecord | null {
  try {
    const v = JSON.parse(Buffer.from(data).toString('utf8')) as Partial<OwnerRecord>;
    return typeof v.node === 'string' && typeof v.since === 'number' ? { node: v.node, since: v.since } : null;
  } catch { return null; }
}

export function topicKey(topic: string): string { return Buffer.from(topic, 'utf8').toString('base64url'); }
export function keyTopic(key: string): string { return Buffer.from(key, 'base64url').toString('utf8'); }

/** The routes bucket's key of `filter` announced by `node`. */
export function routeKey(node: string, filter: string): string {
  return `${node}.${topicKey(filter)}`;
}

/** The routes bucket's key of shared group `key` (group + NUL + filter): its value is `node`'s member count. */
export function shareRouteKey(node: string, key: string): string {
  return `${node}.s.${topicKey(key)}`;
}

/** [node, filter or group key, is a share] of a routes bucket key; null for a key this version did not write. */
export function parseRouteKey(key: string): [string, string, boolean] | null {
  const dot = key.indexOf('.');
  if (dot <= 0) return null;
  const rest = key.slice(dot + 1);
  // base64url has no '.', so "s." can only start a share's key.
  if (rest.startsWith('s.')) return [key.slice(0, dot), keyTopic(rest.slice(2)), true];
  return [key.slice(0, dot), keyTopic(rest), false];
}

export function natsServers(urls: string): string[] {
  return urls.split(',').map((u) => u.trim()).filter((u) => u !== '');
}

// What main asks a shard over its one control channel, and what a shard answers: the admin port's
// questions and orders and the embedding API's (src/main/broker.ts), small JSON-shaped values over
// the workers' MessagePorts (control, never the data path), each answered once under one id
// space. The shard side is src/worker/control/, main's side src/main/control/.

/** A connected client or an offline persistent session, with comqtt's field names. */
export interface ClientInfo {
  id: string;
  ip: string;
  online: boolean;
  username: string;
  topic_filters: string[];
  protocol_version: number;
  session_clean: boolean;
  will_topic_name: string;
  will_payload: string;
  will_retain: boolean;
  inflight_count: number;
  queued_count: number;
  connected_at: string;          // ISO time (comqtt sends Go's time.Time); '' offline
  bytes_received: number;
  bytes_sent: number;
  keepalive: number;
  shard: number;
}

export interface SubscriptionInfo {
  client_id: string;
  topic: string;
  qos: number;
  no_local: boolean;
  retain_as_published: boolean;
  identifier?: number;
}

export interface RetainedInfo {
  topic: string;
  qos: number;
  size: number;
  payload: string;               // utf8, at most RETAINED_PAYLOAD_CAP bytes
}

export const RETAINED_PAYLOAD_CAP = 4096;

/** A connected client as the embedding API (and the hooks) see it. */
export interface ConnectedClient { clientId: string; username: string | undefined; address: string; protocolVersion: number; shard: number }

/** A bridge's status (src/worker/bridge/), from the shard that runs it. */
export interface BridgeInfo {
  name: string;
  shard: number;
  connected: boolean;
  address: string;               // host:port of the remote it is (or last was) connected to
  connected_since: string;       // ISO time, '' while down
  last_error: string;
  queued: number;                // local messages waiting for the remote: session queue + in flight
  sent: number;                  // messages the remote has acknowledged (QoS 0: written)
  received: number;              // messages from the remote, published locally
  dropped: number;               // QoS 0 for the remote dropped while it was down or behind
  reconnects: number;
}

/** A page of matching items from one shard: the first `limit` (in id order) and how many matched in all. */
export interface Slice<T> { items: T[]; total: number }

export type AdminQuery =
  | { op: 'client'; id: string }
  | { op: 'clients'; match: string; limit: number }
  | { op: 'subscriptions'; match: string; client: string; limit: number }
  | { op: 'filters' }
  | { op: 'retained'; match: string; limit: number }
  | { op: 'clear-retained'; topic: string }
  | { op: 'kick'; id: string; reason: number }
  | { op: 'unsubscribe'; id: string; filter: string }
  // properties: MQTT 5 PUBLISH properties as MQTT.js spells them (the embedding API's); a bad one
  // is refused with SHOAL_PUBLISH_INVALID
  | { op: 'publish'; topic: string; payload: string | Uint8Array; qos: 0 | 1 | 2; retain: boolean; properties?: Record<string, unknown> | null }
  | { op: 'ban'; id: string; write: boolean }
  | { op: 'unban'; id: string; write: boolean }
  | { op: 'banned' }
  // The embedding API: connected clients (all, or the one with `id`), and the events hook on or off.
  | { op: 'connected'; id: string | null }
  | { op: 'events'; on: boolean }
  | { op: 'bridges' };

/** The answer to each op (by `op`). */
export interface AdminAnswers {
  client: ClientInfo | null;
  clients: Slice<ClientInfo>;
  subscriptions: Slice<SubscriptionInfo>;
  filters: string[];
  retained: Slice<RetainedInfo>;
  'clear-retained': boolean;
  kick: boolean;
  unsubscribe: 'ok' | 'no-client' | 'no-subscription';
  publish: true;
  ban: boolean;
  unban: boolean;
  banned: string[];
  connected: ConnectedClient[];
  events: true;
  bridges: BridgeInfo[];
}

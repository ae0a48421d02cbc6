// The configuration's shape and its defaults: what every shard receives. Reading it from flags,
// environment and the config file (one option table) is src/shared/config/.
import os from 'node:os';
import type { Transport } from './tls.ts';

export type Persistence = 'durable' | 'fast' | 'memory';
/** Who accepts TCP connections: each shard on its own SO_REUSEPORT listener, or main (then transferred). */
export type AcceptMode = 'shards' | 'main';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'pretty' | 'json';

/** One entry of the config file's `listeners:` list (the plain port keys give one listener each besides). */
export interface ListenerConfig {
  transport: Transport;
  host: string;
  port: number;
  cert: string;                 // tls/wss: PEM files; '' = the top-level tls-cert / tls-key / tls-ca
  key: string;
  ca: string;
  clientAuth: boolean;
  path: string;                 // ws/wss: the only upgrade path; '' = any
}

/** Everything a shard needs to know, passed once at start (structured clone is fine here: not the hot path). */
export interface BrokerConfig {
  host: string;
  port: number;
  shards: number;
  accept: AcceptMode;
  dataDir: string;
  persistence: Persistence;
  logLevel: LogLevel;
  logFormat: LogFormat;         // pretty (pino-pretty) or one JSON object a line, on stderr
  startTimeout: number;         // ms each start-up step (shards ready, listeners bound) may take
  sysInterval: number;          // seconds; 0 disables $SYS
  maxPacketSize: number;        // bytes, inbound limit (and advertised in v5 CONNACK)
  maxInflight: number;          // outbound QoS 1/2 in flight per client when the client sets no Receive Maximum
  receiveMaximum: number;       // inbound QoS 1/2 we accept unacknowledged per client (v5 CONNACK)
  maxQueuedMessages: number;    // per-session queue bound (QoS 1/2 beyond it are dropped and counted)
  maxQueuedQos0: number;        // QoS 0 messages held for a client that cannot take them now
  maxQueuedBytes: number;       // per-session queue bound in payload + topic bytes (0 = none)
  maxStoreBytes: number;        // global bound on the store's live data (0 = none), see docs/durability.md
  storeFull: 'drop' | 'refuse'; // at --max-store-bytes: drop what would be queued, or refuse v5 QoS 1/2 with 0x97
  socketHighWater: number;      // bytes buffered on a socket before we stop writing to it
  maxClientBacklog: number;     // bytes buffered for a slow client beyond which its QoS 0 is dropped
  slowClientMs: number;         // rate window: a client behind that drains less than socketHighWater in it is slow
  topicAliasMaximum: number;    // inbound topic aliases we accept (v5)
  maxKeepAlive: number;         // seconds; v5 Server Keep Alive when a client asks for more (0 = no cap)
  connectTimeout: number;       // ms a fresh socket gets to send CONNECT
  ringCapacity: number;         // bytes per shard-pair ring (power of two)
  testHooks: boolean;
  authUsers: string;            // users file (name:password or SCRAM-SHA-256 verifier); '' = no users file
  allowAnonymous: boolean;      // with a users file: let clients without a user name in
  authHook: string;             // module exporting an AuthHook factory; '' = none
  responseInformation: string;  // v5 Response Information template ('%c' = client id); '' = not offered
  maxQos: number;               // highest QoS accepted in PUBLISH / granted in SUBSCRIBE (v5 CONNACK Maximum QoS)
  retainAvailable: boolean;     // retained messages accepted (v5 CONNACK Retain Available)
  wildcardSubscriptions: boolean;
  subscriptionIdentifiers: boolean;
  sharedSubscriptions: boolean;
  // Transports besides plain TCP (docs/transports.md): null = off. TLS and WebSocket are terminated in the shards.
  tlsPort: number | null;       // MQTT over TLS
  wsPort: number | null;        // MQTT over WebSocket
  wssPort: number | null;       // MQTT over WebSocket over TLS
  tlsCert: string;              // PEM certificate chain file (needed by --tls-port and --wss-port)
  tlsKey: string;               // PEM private key file
  tlsCa: string;                // PEM CA file that client certificates must chain to; '' = none
  tlsClientAuth: boolean;       // require a client certificate signed by --tls-ca
  wsPath: string;               // the only path a WebSocket upgrade may ask for; '' = any path
  listeners: ListenerConfig[];  // more listeners, from the config file (src/shared/config/listeners.ts)
  // Admin HTTP (docs/operations.md), served by main: null = off.
  httpPort: number | null;      // /health, /ready, /metrics, /api/v1/...
  httpHost: string;
  httpToken: string;            // bearer token for everything but /health; '' = none
}

export const DEFAULTS: BrokerConfig = {
  host: '0.0.0.0',
  port: 1883,
  shards: Math.max(1, os.availableParallelism()),
  // SO_REUSEPORT: the kernel hashes new connections over the shards' own listeners, no hop
  // through main (docs/performance.md, "many"); elsewhere main accepts and transfers.
  accept: os.platform() === 'linux' || os.platform() === 'freebsd' ? 'shards' : 'main',
  dataDir: './data',
  persistence: 'durable',
  logLevel: 'info',
  // What a person reads at a terminal; what a log collector parses anywhere else.
  logFormat: process.stderr.isTTY ? 'pretty' : 'json',
  startTimeout: 30_000,
  sysInterval: 10,
  maxPacketSize: 1024 * 1024,
  maxInflight: 100,
  receiveMaximum: 1024,
  maxQueuedMessages: 100_000,
  maxQueuedQos0: 1000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxStoreBytes: 0,
  storeFull: 'refuse',
  socketHighWater: 1024 * 1024,
  maxClientBacklog: 8 * 1024 * 1024,
  slowClientMs: 100,
  topicAliasMaximum: 64,
  maxKeepAlive: 0,
  connectTimeout: 10_000,
  ringCapacity: 4 * 1024 * 1024,
  testHooks: false,
  authUsers: '',
  allowAnonymous: false,
  authHook: '',
  responseInformation: '',
  maxQos: 2,
  retainAvailable: true,
  wildcardSubscriptions: true,
  subscriptionIdentifiers: true,
  sharedSubscriptions: true,
  tlsPort: null,
  wsPort: null,
  wssPort: null,
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  tlsClientAuth: false,
  wsPath: '',
  listeners: [],
  httpPort: null,
  httpHost: '127.0.0.1',
  httpToken: '',
};

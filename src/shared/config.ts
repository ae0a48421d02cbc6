// The configuration's shape and its defaults: what every shard receives. Reading it from flags,
// environment and the config file (one option table) is src/shared/config/.
import os from 'node:os';
import type { Transport } from './tls.ts';
import type { BridgeConfig } from './config/bridges.ts';

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

/**
 * A hook module loaded by every shard (docs/hooks.md): its specifier (a path, resolved against the
 * working directory by main, a file: URL, or a package name) and JSON-able options for its factory.
 */
export interface HookSpec {
  module: string;
  options: unknown;
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
  ringCapacity: number;         // bytes a shard's inbound rings share (power of two; ring/budget.ts)
  testHooks: boolean;
  authUsers: string;            // users file (name:password or SCRAM-SHA-256 verifier); '' = no users file
  allowAnonymous: boolean;      // with a users file: let clients without a user name in
  authHook: string;             // module exporting an AuthHook factory; '' = none
  passwordFile: string;         // Mosquitto password file ($7$, $6$, SCRAM lines); '' = none (docs/security.md)
  aclFile: string;              // Mosquitto acl_file; '' = none (with one: denied by default)
  allowPlaintextPasswords: boolean; // accept name:password lines in the password file
  hashThreads: number;          // password hashing threads per shard (0 = on the shard's event loop)
  // Limits (docs/security.md): 0 = no limit
  maxConnections: number;       // clients past CONNECT, all shards together
  maxConnectionsPerIp: number;  // sockets per client address on one shard
  fdReserve: number;            // descriptors the process's table holds from start (main/fd-table.ts; 0 = grown on demand)
  connectRate: number;          // new sockets per second per client address (beyond: closed before CONNECT is read)
  maxPublishRate: number;       // PUBLISH packets per second per client (beyond: its reads pause)
  maxPublishBytes: number;      // PUBLISH bytes per second per client (beyond: its reads pause)
  maxTopicLevels: number;       // levels of a topic name or filter
  maxTopicLength: number;       // bytes of a topic name or filter
  maxSubscriptionsPerClient: number;
  maxRetainedMessages: number;  // retained messages in the broker
  maxRetainedBytes: number;     // payload + topic bytes of the retained messages
  clientIdPrefixes: string;     // comma-separated: client ids must start with one ('' = any)
  persistentClientExpiration: number; // seconds a 3.1.1 persistent session lives offline (0 = forever)
  hookTimeout: number;          // ms a hook's asynchronous decision (connect, ACL, publish, subscribe) may take; then it refuses
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
  hooks: HookSpec[];            // hook modules, in stacking order (--hook, the file's hooks:, createBroker's hooks)
  bridges: BridgeConfig[];      // connections to other brokers (src/shared/config/bridges.ts, docs/bridges.md)
  // Admin HTTP (docs/operations.md), served by main: null = off.
  httpPort: number | null;      // /health, /ready, /metrics, /api/v1/...
  httpHost: string;
  httpToken: string;            // bearer token for everything but /health; '' = none
  // Cluster on NATS (docs/cluster.md): '' = this process is the whole broker.
  clusterName: string;
  clusterNodeId: string;
  clusterNats: string;          // comma-separated NATS URLs
  clusterTimeout: number;       // ms for another node's commit confirmation
  clusterHold: number;          // ms a held ack waits for NATS to come back (worker/cluster/hold.ts)
  clusterHoldBytes: number;     // bytes of held frames per shard while NATS is away
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
  passwordFile: '',
  aclFile: '',
  allowPlaintextPasswords: false,
  hashThreads: 1,
  maxConnections: 0,
  maxConnectionsPerIp: 0,
  fdReserve: 4096,
  connectRate: 0,
  maxPublishRate: 0,
  maxPublishBytes: 0,
  maxTopicLevels: 0,
  maxTopicLength: 0,
  maxSubscriptionsPerClient: 0,
  maxRetainedMessages: 0,
  maxRetainedBytes: 0,
  clientIdPrefixes: '',
  persistentClientExpiration: 0,
  hookTimeout: 5000,
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
  hooks: [],
  bridges: [],
  httpPort: null,
  httpHost: '127.0.0.1',
  httpToken: '',
  clusterName: '',
  clusterNodeId: '',
  clusterNats: 'nats://127.0.0.1:4222',
  clusterTimeout: 3000,
  clusterHold: 30_000,
  clusterHoldBytes: 16 * 1024 * 1024,
};

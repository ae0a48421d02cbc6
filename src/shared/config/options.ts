// The option table: one row per setting. It drives the command-line flags (--name), the
// environment (SHOAL_NAME, dashes as underscores), the config file (name: value), --help
// (grouped by `group`, in table order) and --print-config (values of `secret` rows masked).
// A new setting is one row here plus its field and default in ../config.ts.
import type { BrokerConfig } from '../config.ts';

/** int: an integer from min to max; port: 0..65535 or null (off); bool: true/false/1/0/yes/no. */
/** duration: Mosquitto's syntax (1h, 2d, 1w, 1m, 1y; Shoal also takes 30s or plain seconds), held in seconds. */
export type OptionType = 'int' | 'port' | 'string' | 'bool' | 'enum' | 'duration';

/** --help's sections, in the order printed. */
export const GROUPS = [
  'Listeners',
  'TLS and WebSocket',
  'Shards and storage',
  'Limits and flow control',
  'MQTT 5 capabilities',
  'Authentication',
  'Logging and $SYS',
  'Admin HTTP',
  'Cluster',
  'Testing',
] as const;
export type Group = (typeof GROUPS)[number];

export interface OptionSpec {
  name: string;
  key: keyof BrokerConfig;
  type: OptionType;
  group: Group;
  help: string;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Masked by --print-config (tokens, passwords). */
  secret?: boolean;
  /** --help's placeholder for the value (default: N for numbers, VALUE for text). */
  arg?: string;
  /** What --help shows as the default when DEFAULTS' value depends on the machine. */
  defaultText?: string;
}

const port = (name: string, key: keyof BrokerConfig, group: Group, help: string): OptionSpec => ({ name, key, type: 'port', group, help });

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'host', key: 'host', arg: 'ADDR', type: 'string', group: 'Listeners', help: 'address the listeners of the port keys bind to' },
  { name: 'port', key: 'port', type: 'int', min: 0, max: 65535, group: 'Listeners', help: 'MQTT TCP port (0 = any free port, printed at start)' },
  port('tls-port', 'tlsPort', 'Listeners', 'MQTT over TLS port, e.g. 8883 (needs --tls-cert and --tls-key)'),
  port('ws-port', 'wsPort', 'Listeners', 'MQTT over WebSocket port, e.g. 8080'),
  port('wss-port', 'wssPort', 'Listeners', 'MQTT over WebSocket over TLS port, e.g. 8081 (same certificate as --tls-port)'),
  { name: 'accept', key: 'accept', type: 'enum', values: ['shards', 'main'], group: 'Listeners', defaultText: 'shards on Linux and FreeBSD, main elsewhere', help: 'shards: every shard accepts TCP on the port itself, the kernel spreads connections by hash (SO_REUSEPORT) | main: the main thread accepts and hands each socket to the least-loaded shard' },
  { name: 'connect-timeout', key: 'connectTimeout', arg: 'MS', type: 'int', min: 100, max: 600000, group: 'Listeners', help: 'ms a new connection has to finish its handshake and send CONNECT' },

  { name: 'tls-cert', key: 'tlsCert', arg: 'FILE', type: 'string', group: 'TLS and WebSocket', help: 'PEM file: the server certificate (and its chain) for --tls-port and --wss-port' },
  { name: 'tls-key', key: 'tlsKey', arg: 'FILE', type: 'string', group: 'TLS and WebSocket', help: 'PEM file: the private key of --tls-cert' },
  { name: 'tls-ca', key: 'tlsCa', arg: 'FILE', type: 'string', group: 'TLS and WebSocket', help: 'PEM file: CA certificates that client certificates must chain to' },
  { name: 'tls-client-auth', key: 'tlsClientAuth', type: 'bool', group: 'TLS and WebSocket', help: 'TLS clients must present a certificate signed by --tls-ca' },
  { name: 'ws-path', key: 'wsPath', arg: 'PATH', type: 'string', group: 'TLS and WebSocket', help: 'the only HTTP path a WebSocket upgrade may use, e.g. /mqtt (empty: any path, like Mosquitto)' },

  { name: 'shards', key: 'shards', type: 'int', min: 1, max: 32, group: 'Shards and storage', defaultText: 'number of cores', help: 'worker threads owning connections' },
  { name: 'data-dir', key: 'dataDir', arg: 'DIR', type: 'string', group: 'Shards and storage', help: 'LMDB data directory (created if missing)' },
  { name: 'persistence', key: 'persistence', type: 'enum', values: ['durable', 'fast', 'memory'], group: 'Shards and storage', help: 'durable (synced before ack) | fast (sync left to the OS) | memory (no files)' },
  { name: 'max-store-bytes', key: 'maxStoreBytes', arg: 'B', type: 'int', min: 0, max: 2 ** 48, group: 'Shards and storage', help: 'live data in the store before new queued messages are refused (0 = no limit)' },
  { name: 'store-full', key: 'storeFull', type: 'enum', values: ['drop', 'refuse'], group: 'Shards and storage', help: 'at --max-store-bytes: refuse v5 QoS 1/2 publishes with 0x97, or accept and drop what would be queued' },
  { name: 'ring-capacity', key: 'ringCapacity', arg: 'B', type: 'int', min: 65536, max: 1 << 30, group: 'Shards and storage', help: "bytes one shard's inbound rings share, a power of two: each of its n-1 peers' rings gets budget/(n-1), rounded down to a power of two, at least 64 KiB (all rings: at most n x budget), each with a control ring of 1/16 of it (at least 16 KiB) beside it" },
  { name: 'start-timeout', key: 'startTimeout', arg: 'MS', type: 'int', min: 100, max: 600000, group: 'Shards and storage', help: 'ms each start-up step (shards ready with the store open, listeners bound) may take before the start fails' },

  { name: 'max-packet-size', key: 'maxPacketSize', arg: 'B', type: 'int', min: 64, max: 268435460, group: 'Limits and flow control', help: 'largest inbound packet in bytes (advertised to v5 clients)' },
  { name: 'max-inflight', key: 'maxInflight', type: 'int', min: 1, max: 65535, group: 'Limits and flow control', help: 'outbound QoS 1/2 messages in flight per client' },
  { name: 'receive-maximum', key: 'receiveMaximum', type: 'int', min: 1, max: 65535, group: 'Limits and flow control', help: 'inbound QoS 1/2 messages a client may have unacknowledged' },
  { name: 'max-queued-messages', key: 'maxQueuedMessages', type: 'int', min: 1, max: 1e9, group: 'Limits and flow control', help: 'QoS 1/2 messages queued per session' },
  { name: 'max-queued-bytes', key: 'maxQueuedBytes', arg: 'B', type: 'int', min: 0, max: 2 ** 48, group: 'Limits and flow control', help: 'payload + topic bytes queued per session (0 = no limit)' },
  { name: 'max-queued-qos0', key: 'maxQueuedQos0', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'QoS 0 messages held per slow client before dropping' },
  { name: 'socket-high-water', key: 'socketHighWater', arg: 'B', type: 'int', min: 4096, max: 1 << 30, group: 'Limits and flow control', help: 'bytes buffered on a client socket before it counts as congested' },
  { name: 'max-client-backlog', key: 'maxClientBacklog', arg: 'B', type: 'int', min: 65536, max: 1 << 30, group: 'Limits and flow control', help: 'bytes buffered for a slow client before its QoS 0 messages go to the bounded queue' },
  { name: 'slow-client-ms', key: 'slowClientMs', arg: 'MS', type: 'int', min: 10, max: 3600000, group: 'Limits and flow control', help: 'window in which a client that fell behind must drain --socket-high-water bytes, or count as slow (nobody waits for it)' },
  { name: 'max-connections', key: 'maxConnections', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'clients connected at once, all shards together; beyond: CONNACK 0x97 / 3.1.1 code 3 (0 = no limit)' },
  { name: 'max-connections-per-ip', key: 'maxConnectionsPerIp', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'sockets per client address on each shard; beyond: closed at once (0 = no limit)' },
  { name: 'fd-reserve', key: 'fdReserve', type: 'int', min: 0, max: 1 << 20, group: 'Limits and flow control', help: "descriptors (sockets, files) the process's table holds from start, on Linux: each doubling of it later stalls every thread of the broker for a kernel grace period (10-50 ms); 0 = grown on demand" },
  { name: 'connect-rate', key: 'connectRate', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'new sockets per second per client address; beyond: closed before CONNECT is read (0 = no limit)' },
  { name: 'max-publish-rate', key: 'maxPublishRate', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'PUBLISH packets per second per client; beyond: its reads pause until the next second (0 = no limit)' },
  { name: 'max-publish-bytes', key: 'maxPublishBytes', arg: 'B', type: 'int', min: 0, max: 2 ** 40, group: 'Limits and flow control', help: 'PUBLISH bytes per second per client; beyond: its reads pause until the next second (0 = no limit)' },
  { name: 'max-topic-levels', key: 'maxTopicLevels', type: 'int', min: 0, max: 65535, group: 'Limits and flow control', help: 'levels of a topic name or filter; beyond: refused like an invalid topic (0 = no limit)' },
  { name: 'max-topic-length', key: 'maxTopicLength', arg: 'B', type: 'int', min: 0, max: 65535, group: 'Limits and flow control', help: 'bytes of a topic name or filter; beyond: refused like an invalid topic (0 = no limit)' },
  { name: 'max-subscriptions-per-client', key: 'maxSubscriptionsPerClient', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'subscriptions a session may hold; beyond: SUBACK 0x97 / 0x80 for the filter (0 = no limit)' },
  { name: 'max-retained-messages', key: 'maxRetainedMessages', type: 'int', min: 0, max: 1e9, group: 'Limits and flow control', help: 'retained messages in the broker; beyond: not retained, v5 QoS 1/2 answered 0x97 (0 = no limit)' },
  { name: 'max-retained-bytes', key: 'maxRetainedBytes', arg: 'B', type: 'int', min: 0, max: 2 ** 48, group: 'Limits and flow control', help: 'payload + topic bytes of retained messages; beyond: not retained, v5 QoS 1/2 answered 0x97 (0 = no limit)' },
  { name: 'persistent-client-expiration', key: 'persistentClientExpiration', arg: 'DURATION', type: 'duration', group: 'Limits and flow control', help: 'how long a session that would never expire (3.1.1 clean session 0) lives offline: 1h, 2d, 1w, 1m, 1y as in Mosquitto (0 = forever)' },
  { name: 'max-keepalive', key: 'maxKeepAlive', arg: 'S', type: 'int', min: 0, max: 65535, group: 'Limits and flow control', help: 'cap on client keepalive in seconds, told to v5 clients (0 = none)' },

  { name: 'max-qos', key: 'maxQos', type: 'int', min: 0, max: 2, group: 'MQTT 5 capabilities', help: 'highest QoS accepted and granted (v5 CONNACK Maximum QoS)' },
  { name: 'retain-available', key: 'retainAvailable', type: 'bool', group: 'MQTT 5 capabilities', help: 'retained messages accepted (--retain-available=false refuses them)' },
  { name: 'wildcard-subscriptions', key: 'wildcardSubscriptions', type: 'bool', group: 'MQTT 5 capabilities', help: 'wildcard filters allowed (=false refuses them)' },
  { name: 'subscription-identifiers', key: 'subscriptionIdentifiers', type: 'bool', group: 'MQTT 5 capabilities', help: 'v5 Subscription Identifiers allowed (=false refuses them)' },
  { name: 'shared-subscriptions', key: 'sharedSubscriptions', type: 'bool', group: 'MQTT 5 capabilities', help: '$share/ subscriptions allowed (=false refuses them)' },
  { name: 'topic-alias-maximum', key: 'topicAliasMaximum', type: 'int', min: 0, max: 65535, group: 'MQTT 5 capabilities', help: 'inbound topic aliases per v5 client' },
  { name: 'response-information', key: 'responseInformation', arg: 'TEXT', type: 'string', group: 'MQTT 5 capabilities', help: 'v5 Response Information for clients that request it; %c = client id (e.g. reply/%c/)' },

  { name: 'auth-users', key: 'authUsers', arg: 'FILE', type: 'string', group: 'Authentication', help: 'users file (name:password or name:SCRAM-SHA-256$...): password and SCRAM-SHA-256 auth' },
  { name: 'allow-anonymous', key: 'allowAnonymous', type: 'bool', group: 'Authentication', help: 'with --auth-users or --password-file: also accept clients without a user name' },
  { name: 'password-file', key: 'passwordFile', arg: 'FILE', type: 'string', group: 'Authentication', help: "Mosquitto password file (mosquitto_passwd's $7$ / $6$ lines, SCRAM lines); supersedes --auth-users; SIGHUP reloads it" },
  { name: 'allow-plaintext-passwords', key: 'allowPlaintextPasswords', type: 'bool', group: 'Authentication', help: 'accept name:password lines in plain text in --password-file' },
  { name: 'hash-threads', key: 'hashThreads', type: 'int', min: 0, max: 16, group: 'Authentication', help: "threads per shard checking --password-file passwords (0: on the shard's own event loop, which stalls it; only to measure the difference)" },
  { name: 'acl-file', key: 'aclFile', arg: 'FILE', type: 'string', group: 'Authentication', help: "Mosquitto acl_file (user / topic / pattern rules); with one, access is denied by default; SIGHUP reloads it" },
  { name: 'client-id-prefixes', key: 'clientIdPrefixes', arg: 'A,B', type: 'string', group: 'Authentication', help: 'client ids must start with one of these prefixes; others get CONNACK 0x85 / 3.1.1 code 2 (empty: any)' },
  { name: 'auth-hook', key: 'authHook', arg: 'MODULE', type: 'string', group: 'Authentication', help: 'module exporting createAuthHook(config, base) => AuthHook (see src/worker/auth/hook.ts)' },

  { name: 'hook-timeout', key: 'hookTimeout', arg: 'MS', type: 'int', min: 1, max: 600000, group: 'Authentication', help: 'ms a hook may take to decide a CONNECT, ACL check, PUBLISH or SUBSCRIBE; later counts as a refusal (docs/hooks.md)' },

  { name: 'log-level', key: 'logLevel', type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], group: 'Logging and $SYS', help: 'log level (logs go to stderr)' },
  { name: 'log-format', key: 'logFormat', type: 'enum', values: ['pretty', 'json'], group: 'Logging and $SYS', defaultText: 'pretty on a terminal, json otherwise', help: 'pretty: one readable line an event | json: one JSON object a line (pino)' },
  { name: 'sys-interval', key: 'sysInterval', arg: 'S', type: 'int', min: 0, max: 86400, group: 'Logging and $SYS', help: 'seconds between $SYS updates (0 = off)' },

  { name: 'http-port', key: 'httpPort', type: 'port', group: 'Admin HTTP', help: 'admin HTTP port: /health, /ready, /metrics, REST API (0 = any free port; docs/operations.md)' },
  { name: 'http-host', key: 'httpHost', arg: 'ADDR', type: 'string', group: 'Admin HTTP', help: 'address of the admin HTTP port' },
  { name: 'http-token', key: 'httpToken', arg: 'TOKEN', type: 'string', secret: true, group: 'Admin HTTP', help: 'bearer token the admin port requires except on /health (SHOAL_HTTP_TOKEN keeps it out of ps)' },
  { name: 'cluster-name', key: 'clusterName', arg: 'NAME', type: 'string', group: 'Cluster', help: 'join the cluster of this name over NATS, as one broker with its other nodes (empty: no cluster; docs/cluster.md)' },
  { name: 'cluster-node-id', key: 'clusterNodeId', arg: 'ID', type: 'string', group: 'Cluster', help: "this node's id, unique in the cluster and kept across restarts (letters, digits, - and _; needed with --cluster-name)" },
  { name: 'cluster-nats', key: 'clusterNats', arg: 'URL,URL', type: 'string', group: 'Cluster', help: 'NATS servers (with JetStream) the node connects to, tried in order' },
  { name: 'cluster-timeout', key: 'clusterTimeout', arg: 'MS', type: 'int', min: 100, max: 600000, group: 'Cluster', help: 'ms another node has to confirm it committed QoS 1/2 messages sent to it (later, their publishers get no ack, v5: DISCONNECT 0x80, and resend), or to hand over the session of a client id that connects here (later: CONNACK 0x88)' },
  { name: 'cluster-hold', key: 'clusterHold', arg: 'MS', type: 'int', min: 0, max: 3600000, group: 'Cluster', help: 'while this shard is cut off from NATS: ms the ack of a QoS 1/2 message for another node waits for NATS to come back (its frame held, then sent in order); later the publisher gets no ack (v5: DISCONNECT 0x80) and resends' },
  { name: 'cluster-hold-bytes', key: 'clusterHoldBytes', arg: 'B', type: 'int', min: 0, max: 2 ** 40, group: 'Cluster', help: 'bytes of frames for other nodes a shard holds while cut off from NATS; past it QoS 1/2 publishers get no ack (v5: DISCONNECT 0x80) and resend, QoS 0 is dropped and counted' },

  { name: 'test-hooks', key: 'testHooks', type: 'bool', group: 'Testing', help: 'enable test-only hooks ($SHOAL/test/crash-shard); never in production' },
];

/** Command-line only: what to do rather than how to run. */
export const ACTIONS = [
  { name: 'hook', arg: 'MODULE', help: 'load this hook module in every shard; repeatable, stacked in order (also hooks: in the config file; docs/hooks.md)' },
  { name: 'config', short: 'c', arg: 'FILE', help: 'read settings from this YAML file (keys = the long flag names, plus listeners:)' },
  { name: 'print-config', help: 'print the effective configuration (secrets masked) as YAML and exit' },
  { name: 'version', help: 'print the version and exit' },
  { name: 'help', short: 'h', help: 'this text' },
] as const;

export const byName: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

/** SHOAL_MAX_INFLIGHT for max-inflight. */
export function envName(name: string): string {
  return `SHOAL_${name.toUpperCase().replaceAll('-', '_')}`;
}

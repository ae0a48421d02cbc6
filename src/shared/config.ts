import os from 'node:os';
import { ErrorCode, ShoalError } from './errors.ts';

export type Persistence = 'durable' | 'fast' | 'memory';
/** Who accepts TCP connections: each shard on its own SO_REUSEPORT listener, or main (then transferred). */
export type AcceptMode = 'shards' | 'main';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Everything a shard needs to know, passed once at start (structured clone is fine here: not the hot path). */
export interface BrokerConfig {
  host: string;
  port: number;
  shards: number;
  accept: AcceptMode;
  dataDir: string;
  persistence: Persistence;
  logLevel: LogLevel;
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
  slowClientMs: number;         // a client congested this long no longer holds back publishers
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
  slowClientMs: 2000,
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
  httpPort: null,
  httpHost: '127.0.0.1',
  // SHOAL_HTTP_TOKEN keeps the token out of `ps` (a flag would show it); a flag still wins.
  httpToken: process.env.SHOAL_HTTP_TOKEN ?? '',
};

interface FlagSpec { key: keyof BrokerConfig; kind: 'int' | 'string' | 'bool' | 'enum'; values?: readonly string[]; min?: number; max?: number; help: string }

const FLAGS: Record<string, FlagSpec> = {
  '--host': { key: 'host', kind: 'string', help: 'address to listen on (default 0.0.0.0)' },
  '--port': { key: 'port', kind: 'int', min: 0, max: 65535, help: 'MQTT TCP port (default 1883; 0 = any free port)' },
  '--shards': { key: 'shards', kind: 'int', min: 1, max: 32, help: 'worker threads owning connections (default: number of cores)' },
  '--accept': { key: 'accept', kind: 'enum', values: ['shards', 'main'], help: 'shards: every shard accepts TCP on the port itself, the kernel spreads connections by hash (SO_REUSEPORT; default on Linux and FreeBSD) | main: the main thread accepts and hands each socket to the least-loaded shard (default elsewhere)' },
  '--data-dir': { key: 'dataDir', kind: 'string', help: 'LMDB data directory (default ./data)' },
  '--persistence': { key: 'persistence', kind: 'enum', values: ['durable', 'fast', 'memory'], help: 'durable (synced before ack, default) | fast (sync left to the OS) | memory (no files)' },
  '--log-level': { key: 'logLevel', kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'log level (default info)' },
  '--sys-interval': { key: 'sysInterval', kind: 'int', min: 0, max: 86400, help: 'seconds between $SYS updates (default 10; 0 = off)' },
  '--max-packet-size': { key: 'maxPacketSize', kind: 'int', min: 64, max: 268435460, help: 'largest inbound packet in bytes (default 1048576)' },
  '--max-inflight': { key: 'maxInflight', kind: 'int', min: 1, max: 65535, help: 'outbound QoS 1/2 messages in flight per client (default 100)' },
  '--receive-maximum': { key: 'receiveMaximum', kind: 'int', min: 1, max: 65535, help: 'inbound QoS 1/2 messages a client may have unacknowledged (default 1024)' },
  '--max-queued-messages': { key: 'maxQueuedMessages', kind: 'int', min: 1, max: 1e9, help: 'QoS 1/2 messages queued per session (default 100000)' },
  '--max-queued-bytes': { key: 'maxQueuedBytes', kind: 'int', min: 0, max: 2 ** 48, help: 'payload + topic bytes queued per session (default 67108864; 0 = no limit)' },
  '--max-store-bytes': { key: 'maxStoreBytes', kind: 'int', min: 0, max: 2 ** 48, help: 'live data in the store before new queued messages are refused (default 0 = no limit)' },
  '--store-full': { key: 'storeFull', kind: 'enum', values: ['drop', 'refuse'], help: 'at --max-store-bytes: refuse v5 QoS 1/2 publishes with 0x97 (default) or accept and drop what would be queued' },
  '--max-queued-qos0': { key: 'maxQueuedQos0', kind: 'int', min: 0, max: 1e9, help: 'QoS 0 messages held per slow client before dropping (default 1000)' },
  '--topic-alias-maximum': { key: 'topicAliasMaximum', kind: 'int', min: 0, max: 65535, help: 'inbound topic aliases per v5 client (default 64)' },
  '--max-keepalive': { key: 'maxKeepAlive', kind: 'int', min: 0, max: 65535, help: 'cap on client keepalive in seconds, told to v5 clients (default 0 = none)' },
  '--connect-timeout': { key: 'connectTimeout', kind: 'int', min: 100, max: 600000, help: 'ms a new connection has to send CONNECT (default 10000)' },
  '--socket-high-water': { key: 'socketHighWater', kind: 'int', min: 4096, max: 1 << 30, help: 'bytes buffered on a client socket before it counts as congested (default 1048576)' },
  '--max-client-backlog': { key: 'maxClientBacklog', kind: 'int', min: 65536, max: 1 << 30, help: 'bytes buffered for a slow client before its QoS 0 messages are dropped (default 8388608)' },
  '--slow-client-ms': { key: 'slowClientMs', kind: 'int', min: 10, max: 3600000, help: 'ms a congested client may hold back publishers before it counts as slow (default 2000)' },
  '--ring-capacity': { key: 'ringCapacity', kind: 'int', min: 65536, max: 1 << 30, help: 'bytes per shard-pair ring, a power of two (default 4194304)' },
  '--auth-users': { key: 'authUsers', kind: 'string', help: 'users file (name:password or name:SCRAM-SHA-256$...): password and SCRAM-SHA-256 auth' },
  '--allow-anonymous': { key: 'allowAnonymous', kind: 'bool', help: 'with --auth-users: also accept clients without a user name' },
  '--auth-hook': { key: 'authHook', kind: 'string', help: 'module exporting createAuthHook(config, base) => AuthHook (see src/worker/auth.ts)' },
  '--response-information': { key: 'responseInformation', kind: 'string', help: 'v5 Response Information for clients that request it; %c = client id (e.g. reply/%c/)' },
  '--max-qos': { key: 'maxQos', kind: 'int', min: 0, max: 2, help: 'highest QoS accepted and granted (default 2; v5 CONNACK Maximum QoS)' },
  '--retain-available': { key: 'retainAvailable', kind: 'bool', help: 'retained messages accepted (default true; --retain-available=false refuses them)' },
  '--wildcard-subscriptions': { key: 'wildcardSubscriptions', kind: 'bool', help: 'wildcard filters allowed (default true; =false refuses them)' },
  '--subscription-identifiers': { key: 'subscriptionIdentifiers', kind: 'bool', help: 'v5 Subscription Identifiers allowed (default true; =false refuses them)' },
  '--shared-subscriptions': { key: 'sharedSubscriptions', kind: 'bool', help: '$share/ subscriptions allowed (default true; =false refuses them)' },
  '--tls-port': { key: 'tlsPort', kind: 'int', min: 0, max: 65535, help: 'MQTT over TLS port, e.g. 8883 (default off; needs --tls-cert and --tls-key)' },
  '--ws-port': { key: 'wsPort', kind: 'int', min: 0, max: 65535, help: 'MQTT over WebSocket port, e.g. 8080 (default off)' },
  '--wss-port': { key: 'wssPort', kind: 'int', min: 0, max: 65535, help: 'MQTT over WebSocket over TLS port, e.g. 8081 (default off; same certificate as --tls-port)' },
  '--tls-cert': { key: 'tlsCert', kind: 'string', help: 'PEM file: the server certificate (and its chain) for --tls-port and --wss-port' },
  '--tls-key': { key: 'tlsKey', kind: 'string', help: 'PEM file: the private key of --tls-cert' },
  '--tls-ca': { key: 'tlsCa', kind: 'string', help: 'PEM file: CA certificates that client certificates must chain to' },
  '--tls-client-auth': { key: 'tlsClientAuth', kind: 'bool', help: 'TLS clients must present a certificate signed by --tls-ca (default off)' },
  '--ws-path': { key: 'wsPath', kind: 'string', help: 'the only HTTP path a WebSocket upgrade may use, e.g. /mqtt (default: any path, like Mosquitto)' },
  '--http-port': { key: 'httpPort', kind: 'int', min: 0, max: 65535, help: 'admin HTTP port: /health, /ready, /metrics, REST API (default off; 0 = any free port)' },
  '--http-host': { key: 'httpHost', kind: 'string', help: 'address of the admin HTTP port (default 127.0.0.1)' },
  '--http-token': { key: 'httpToken', kind: 'string', help: 'bearer token the admin port requires, except on /health (or SHOAL_HTTP_TOKEN; default none)' },
  '--test-hooks': { key: 'testHooks', kind: 'bool', help: 'enable test-only hooks ($SHOAL/test/crash-shard); never in production' },
};

export function usage(): string {
  const lines = ['Usage: npm start -- [flags]    (or: shoal [flags])', '', 'Flags:'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const arg = spec.kind === 'bool' ? '' : spec.kind === 'enum' ? ` ${spec.values!.join('|')}` : spec.kind === 'int' ? ' N' : ' VALUE';
    lines.push(`  ${(name + arg).padEnd(42)} ${spec.help}`);
  }
  lines.push(`  ${'--help'.padEnd(42)} this text`);
  return lines.join('\n');
}

export type ParsedArgs = { help: true } | { help: false; config: BrokerConfig };

/** Parses `--flag value` and `--flag=value`; unknown flags and bad values are errors, not ignored. */
export function parseArgs(argv: readonly string[], base: BrokerConfig = DEFAULTS): ParsedArgs {
  const cfg: BrokerConfig = { ...base };
  const out = cfg as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) { value = arg.slice(eq + 1); arg = arg.slice(0, eq); }
    const spec = FLAGS[arg];
    if (!spec) throw new ShoalError(ErrorCode.CONFIG_INVALID, `unknown flag ${arg} (see --help)`);
    if (spec.kind === 'bool') {
      out[spec.key] = value === undefined ? true : value !== 'false' && value !== '0';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ShoalError(ErrorCode.CONFIG_INVALID, `${arg} needs a value`);
    }
    if (spec.kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (spec.min ?? -Infinity) || n > (spec.max ?? Infinity)) {
        throw new ShoalError(ErrorCode.CONFIG_INVALID, `${arg} must be an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(value)}`);
      }
      out[spec.key] = n;
    } else if (spec.kind === 'enum') {
      if (!spec.values!.includes(value)) throw new ShoalError(ErrorCode.CONFIG_INVALID, `${arg} must be one of ${spec.values!.join(', ')}, got ${JSON.stringify(value)}`);
      out[spec.key] = value;
    } else {
      out[spec.key] = value;
    }
  }
  validate(cfg);
  return { help: false, config: cfg };
}

export function validate(cfg: BrokerConfig): void {
  if ((cfg.ringCapacity & (cfg.ringCapacity - 1)) !== 0) {
    throw new ShoalError(ErrorCode.CONFIG_INVALID, `--ring-capacity must be a power of two, got ${cfg.ringCapacity}`);
  }
  const tlsOn = cfg.tlsPort !== null || cfg.wssPort !== null;
  if (tlsOn && (cfg.tlsCert === '' || cfg.tlsKey === '')) {
    throw new ShoalError(ErrorCode.CONFIG_INVALID, `${cfg.tlsPort !== null ? '--tls-port' : '--wss-port'} needs --tls-cert and --tls-key`);
  }
  if (!tlsOn && (cfg.tlsCert !== '' || cfg.tlsKey !== '' || cfg.tlsCa !== '' || cfg.tlsClientAuth)) {
    throw new ShoalError(ErrorCode.CONFIG_INVALID, 'TLS flags given without --tls-port or --wss-port');
  }
  if (cfg.tlsClientAuth && cfg.tlsCa === '') throw new ShoalError(ErrorCode.CONFIG_INVALID, '--tls-client-auth needs --tls-ca');
  if (cfg.wsPath !== '' && !cfg.wsPath.startsWith('/')) throw new ShoalError(ErrorCode.CONFIG_INVALID, `--ws-path must start with /, got ${JSON.stringify(cfg.wsPath)}`);
  if (cfg.wsPath !== '' && cfg.wsPort === null && cfg.wssPort === null) throw new ShoalError(ErrorCode.CONFIG_INVALID, '--ws-path given without --ws-port or --wss-port');
  const ports = [cfg.port, cfg.tlsPort, cfg.wsPort, cfg.wssPort].filter((p): p is number => p !== null && p !== 0);
  if (new Set(ports).size !== ports.length) throw new ShoalError(ErrorCode.CONFIG_INVALID, `--port, --tls-port, --ws-port and --wss-port must differ, got ${ports.join(', ')}`);
}

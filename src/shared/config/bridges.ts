// The `bridges:` list (docs/bridges.md): connections to other brokers with Mosquitto's bridge
// semantics. One reader for the config file (each refusal names file:line of the offending node)
// and for createBroker's `bridges` option (naming options.bridges[i].key): both hand the raw value
// and a function that says where a path inside it is, and the same rules check it.
import { isMap, isSeq, type Node } from 'yaml';
import { validateTopicFilter } from '../topics/validate.ts';
import { ConfigError } from './values.ts';

export type BridgeDirection = 'in' | 'out' | 'both';

/** One `topic` line of Mosquitto's bridge: local topic = localPrefix + pattern, remote = remotePrefix + pattern. */
export interface BridgeTopic {
  pattern: string;
  direction: BridgeDirection;
  qos: 0 | 1 | 2;
  localPrefix: string;
  remotePrefix: string;
}

export interface BridgeAddress { host: string; port: number }

export interface BridgeConfig {
  name: string;
  addresses: BridgeAddress[];    // tried in order (Mosquitto's `address a:1883 b:1883`)
  protocolVersion: 4 | 5;
  clientId: string;              // on the remote; default shoal-bridge-<name>
  username: string;
  password: string;
  tls: boolean;
  ca: string;                    // PEM files; '' = system CAs / no client certificate
  cert: string;
  key: string;
  insecure: boolean;             // do not check the remote's host name (Mosquitto's bridge_insecure)
  keepalive: number;             // seconds
  cleanStart: boolean;
  tryPrivate: boolean;           // 3.1.1: protocol level | 0x80, Mosquitto's bridge flag
  restartBaseMs: number;         // reconnect backoff: base, doubled per failure, capped, jittered
  restartCapMs: number;
  notifications: boolean;        // $SYS/broker/connection/<name>/state: 1 / 0, retained
  topics: BridgeTopic[];
}

/** Says where path (inside the bridges value) is: file:line, or options.bridges[0].name. */
export type Where = (path: readonly (string | number)[]) => string;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const KEYS = ['name', 'address', 'protocol-version', 'client-id', 'username', 'password', 'tls', 'ca', 'cert', 'key', 'insecure',
  'keepalive', 'clean-start', 'try-private', 'restart-timeout', 'notifications', 'topics'] as const;
const TOPIC_KEYS = ['pattern', 'direction', 'qos', 'local-prefix', 'remote-prefix'] as const;
/** createBroker may spell the keys in camelCase. */
const camel = (k: string): string => k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** The bridges of `raw` (a list); throws a ConfigError naming where the first problem is. */
export function readBridges(raw: unknown, where: Where): BridgeConfig[] {
  if (!Array.isArray(raw)) throw new ConfigError(where([]), 'bridges: must be a list of {name, address, topics, ...}');
  const names = new Set<string>();
  return raw.map((item: unknown, i) => {
    const b = readBridge(item, i, where);
    if (names.has(b.name)) throw new ConfigError(where([i, 'name']), `bridges[${i}].name: ${JSON.stringify(b.name)} is used twice`);
    names.add(b.name);
    return b;
  });
}

function readBridge(item: unknown, i: number, where: Where): BridgeConfig {
  const at = (key: string, what: string): never => { throw new ConfigError(where(key === '' ? [i] : [i, key]), `bridges[${i}]${key === '' ? '' : '.' + key}: ${what}`); };
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return at('', 'must be a map such as {name: b1, address: "remote:1883", topics: ["a/# out 1"]}');
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(item)) {
    const key = KEYS.find((n) => n === k || camel(n) === k);
    if (key === undefined) at(k, `unknown key (one of ${KEYS.join(', ')})`);
    m.set(key!, v);
  }
  const str = (key: string, dflt: string): string => {
    const v = m.get(key);
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') return at(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = m.get(key);
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') return at(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const name = str('name', '');
  if (!NAME.test(name)) at('name', `needs a name of letters, digits, _ . - (at most 64), got ${JSON.stringify(name)}`);
  const addrRaw = m.get('address');
  const addrList = typeof addrRaw === 'string' ? addrRaw.split(/[\s,]+/).filter((s) => s !== '') : Array.isArray(addrRaw) ? addrRaw : null;
  if (addrList === null || addrList.length === 0) at('address', 'needs one or more host:port (a string or a list)');
  const addresses = addrList!.map((a) => parseAddress(a) ?? at('address', `must be host:port (or [v6]:port), got ${JSON.stringify(a)}`));
  const pvRaw = m.get('protocol-version') ?? '5';
  const pv = String(pvRaw);
  const protocolVersion = pv === '5' || pv === 'mqttv50' ? 5 : pv === '3.1.1' || pv === '4' || pv === 'mqttv311' ? 4 : at('protocol-version', `must be 3.1.1 or 5, got ${JSON.stringify(pvRaw)}`);
  const keepalive = m.get('keepalive') ?? 60;
  if (typeof keepalive !== 'number' || !Number.isInteger(keepalive) || keepalive < 5 || keepalive > 65535) at('keepalive', `must be seconds from 5 to 65535, got ${JSON.stringify(keepalive)}`);
  const [restartBaseMs, restartCapMs] = parseRestart(m.get('restart-timeout') ?? '1 30') ?? at('restart-timeout', 'must be "base cap" (seconds, backoff from base doubling up to cap) or one number (a constant delay), e.g. "1 30"');
  const ca = str('ca', ''), cert = str('cert', ''), key = str('key', '');
  if ((cert === '') !== (key === '')) at(cert === '' ? 'key' : 'cert', 'cert and key go together');
  const tlsRaw = m.get('tls');
  const tls = tlsRaw === undefined ? ca !== '' || cert !== '' : bool('tls', false);
  if (!tls && (ca !== '' || cert !== '')) at('tls', 'ca, cert and key need tls: true');
  const topicsRaw = m.get('topics');
  if (!Array.isArray(topicsRaw) || topicsRaw.length === 0) at('topics', 'needs a list of topic rules ("pattern [[[out|in|both] qos] local-prefix remote-prefix]" or {pattern, direction, qos, local-prefix, remote-prefix})');
  const topics = (topicsRaw as unknown[]).map((t, j) => readTopic(t, (key, what) => { throw new ConfigError(where(key === '' ? [i, 'topics', j] : [i, 'topics', j, key]), `bridges[${i}].topics[${j}]${key === '' ? '' : '.' + key}: ${what}`); }));
  return {
    name, addresses, protocolVersion,
    clientId: str('client-id', `shoal-bridge-${name}`),
    username: str('username', ''), password: str('password', ''),
    tls, ca, cert, key, insecure: bool('insecure', false),
    keepalive: keepalive as number,
    cleanStart: bool('clean-start', false),
    tryPrivate: bool('try-private', true),
    restartBaseMs, restartCapMs,
    notifications: bool('notifications', true),
    topics,
  };
}

function readTopic(raw: unknown, at: (key: string, what: string) => never): BridgeTopic {
  let f: Record<string, unknown>;
  if (typeof raw === 'string') {
    // Mosquitto's topic line; "" stands for an empty prefix.
    const w = raw.trim().split(/\s+/).map((s) => (s === '""' ? '' : s));
    if (w.length > 5 || w.length === 4) at('', `a topic line is "pattern [[[out|in|both] qos] local-prefix remote-prefix]", got ${JSON.stringify(raw)}`);
    f = { pattern: w[0], direction: w[1], qos: w[2] === undefined ? undefined : Number(w[2]), 'local-prefix': w[3], 'remote-prefix': w[4] };
  } else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    f = {};
    for (const [k, v] of Object.entries(raw)) {
      const key = TOPIC_KEYS.find((n) => n === k || camel(n) === k);
      if (key === undefined) at(k, `unknown key (one of ${TOPIC_KEYS.join(', ')})`);
      f[key!] = v;
    }
  } else return at('', 'must be a topic line or a map {pattern, direction, qos, local-prefix, remote-prefix}');
  const pattern = f.pattern;
  if (typeof pattern !== 'string' || pattern === '') return at('pattern', 'needs a topic filter');
  const direction = f.direction ?? 'out';
  if (direction !== 'in' && direction !== 'out' && direction !== 'both') return at('direction', `must be in, out or both, got ${JSON.stringify(direction)}`);
  const qos = f.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) return at('qos', `must be 0, 1 or 2, got ${JSON.stringify(qos)}`);
  const prefix = (key: string): string => {
    const v = f[key] ?? '';
    if (typeof v !== 'string') return at(key, `must be a string, got ${JSON.stringify(v)}`);
    if (/[#+]/.test(v)) return at(key, `must not hold wildcards, got ${JSON.stringify(v)}`);
    return v;
  };
  const localPrefix = prefix('local-prefix'), remotePrefix = prefix('remote-prefix');
  for (const full of [localPrefix + pattern, remotePrefix + pattern]) {
    const bad = validateTopicFilter(full);
    if (bad !== null || full.startsWith('$share/')) at('pattern', `${JSON.stringify(full)} is not a topic filter a bridge can subscribe to`);
  }
  return { pattern, direction, qos, localPrefix, remotePrefix };
}

function parseAddress(a: unknown): BridgeAddress | null {
  if (typeof a !== 'string') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+))(?::(\d{1,5}))?$/.exec(a.trim());
  if (m === null) return null;
  const port = m[3] === undefined ? 1883 : Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

function parseRestart(raw: unknown): [number, number] | null {
  const parts = typeof raw === 'number' ? [raw] : typeof raw === 'string' ? raw.trim().split(/\s+/).map(Number) : [];
  if (parts.length < 1 || parts.length > 2 || parts.some((n) => !Number.isFinite(n) || n <= 0 || n > 86400)) return null;
  const base = Math.round(parts[0]! * 1000);
  const cap = Math.round((parts[1] ?? parts[0]!) * 1000);
  return cap < base ? null : [base, cap];
}

/** Where a path inside a YAML `bridges:` node is, as the line of the deepest node that exists. */
export function yamlWhere(root: Node | null, line: (n: Node | null | undefined) => string): Where {
  return (path) => {
    let node: Node | null = root;
    for (const k of path) {
      const next: unknown = isSeq(node) ? node.get(k as number, true) : isMap(node) ? node.get(k, true) : undefined;
      if (next === undefined || next === null) break;
      node = next as Node;
    }
    return line(node);
  };
}

/** For --print-config: the bridges as the file would hold them, passwords masked. */
export function bridgesYaml(list: readonly BridgeConfig[], mask: string): Record<string, unknown>[] {
  return list.map((b) => ({
    name: b.name, address: b.addresses.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)),
    'protocol-version': b.protocolVersion === 5 ? '5' : '3.1.1', 'client-id': b.clientId, username: b.username,
    password: b.password === '' ? '' : mask, tls: b.tls, ca: b.ca, cert: b.cert, key: b.key, insecure: b.insecure,
    keepalive: b.keepalive, 'clean-start': b.cleanStart, 'try-private': b.tryPrivate,
    'restart-timeout': `${b.restartBaseMs / 1000} ${b.restartCapMs / 1000}`, notifications: b.notifications,
    topics: b.topics.map((t) => ({ pattern: t.pattern, direction: t.direction, qos: t.qos, 'local-prefix': t.localPrefix, 'remote-prefix': t.remotePrefix })),
  }));
}

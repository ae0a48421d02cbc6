// The flags every tool shares, their defaults and validation.
import os from 'node:os';
import { Options, UsageError, type OptionSpec } from './args.ts';
import { parseGate, GateError, type GateTerm } from './gate.ts';
import { HEADER_SIZE } from './payload.ts';
import type { ProtocolLevel, QoS } from './packets.ts';

export const COMMON_SPECS: OptionSpec[] = [
  { name: 'host', kind: 'string', seed: 'host', arg: 'HOST[:PORT]', help: 'broker host, optionally with port (default localhost)' },
  { name: 'port', kind: 'string', arg: 'N', help: 'broker port (default 1883)' },
  { name: 'user', kind: 'string', seed: 'user', arg: 'NAME', help: 'username (sets the password flag too, like the seed)' },
  { name: 'pass', kind: 'string', seed: 'pass', arg: 'WORD', help: 'password' },
  { name: 'id', kind: 'string', seed: 'id', arg: 'ID', help: 'one client id for every client, as the seed did (the broker will kick all but one); default: random 63-bit decimal per client' },
  { name: 'qos', kind: 'string', arg: '0|1|2', help: 'QoS of publishes (default 0); subscriptions use QoS 1, or this when higher' },
  { name: 'protocol', kind: 'string', arg: '3.1|3.1.1|5', help: "MQTT version (default 3.1: 'MQIsdp' level 3, like the seed)" },
  { name: 'payload-size', kind: 'string', arg: 'N', help: `payload bytes, at least the ${HEADER_SIZE}-byte header (publisher, sequence, send time)` },
  { name: 'rate', kind: 'string', arg: 'N', help: 'pace publishes to N messages/s in total (default: as fast as possible)' },
  { name: 'timeout', kind: 'string', arg: 'SECONDS', help: 'longest silence any wait accepts before counting what is missing as lost (default 10)' },
  { name: 'threads', kind: 'string', arg: 'N', help: `worker threads sharing the connections (default: cores = ${os.availableParallelism()}); 1 runs in the main thread` },
  { name: 'source', kind: 'string', arg: 'A-B', help: 'local source addresses, e.g. 127.0.0.1-127.0.0.16, to exceed ~28k ports per destination' },
  { name: 'keepalive', kind: 'string', arg: 'SECONDS', help: 'MQTT keepalive; PINGREQ when idle (default 0, many: 60)' },
  { name: 'json', kind: 'flag', help: 'print one JSON object on stdout and nothing else' },
  { name: 'gate', kind: 'string', arg: 'EXPR', help: 'fail (exit 1) unless e.g. "p99<5ms,rate>100000,lost=0" holds' },
  { name: 'allow-qos0-loss', kind: 'flag', help: 'QoS 0 loss is reported but does not fail the run' },
  { name: 'dump', kind: 'flag', seed: 'dump', help: 'print every packet on stderr' },
  { name: 'help', kind: 'flag', seed: 'h', help: 'this text (also -help)' },
];

export interface CommonOptions {
  host: string;
  port: number;
  user: string | undefined;
  pass: string | undefined;
  id: string | undefined;
  qos: QoS;
  /** QoS requested in SUBSCRIBE: 1 like the seed, or --qos when higher. */
  subQos: QoS;
  protocol: '3.1' | '3.1.1' | '5';
  level: ProtocolLevel;
  payloadSize: number;
  /** Messages per second in total; 0 = unpaced. */
  rate: number;
  timeoutMs: number;
  threads: number;
  source: string[];
  keepalive: number;
  json: boolean;
  gateExpr: string | null;
  gate: GateTerm[] | null;
  allowQos0Loss: boolean;
  dump: boolean;
}

export interface ToolDefaults {
  payloadSize: number;
  keepalive: number;
}

export function readCommon(o: Options, d: ToolDefaults): CommonOptions {
  const [host, hostPort] = splitHostPort(o.string('host', 'localhost'));
  let port = o.int('port', 1883, 1, 65535);
  if (hostPort !== undefined) {
    if (o.has('port') && port !== hostPort) throw new UsageError(`--host gives port ${hostPort} but --port says ${port}`);
    port = hostPort;
  }
  const qos = o.int('qos', 0, 0, 2) as QoS;
  const protocol = parseProtocol(o.string('protocol', '3.1'));
  const gateExpr = o.string('gate') ?? null;
  let gate: GateTerm[] | null = null;
  if (gateExpr !== null) {
    try {
      gate = parseGate(gateExpr);
    } catch (err) {
      throw new UsageError(err instanceof GateError ? `--gate: ${err.message}` : String(err));
    }
  }
  return {
    host,
    port,
    user: o.string('user'),
    pass: o.string('pass'),
    id: o.string('id'),
    qos,
    subQos: Math.max(1, qos) as QoS,
    protocol,
    level: protocol === '3.1' ? 3 : protocol === '3.1.1' ? 4 : 5,
    payloadSize: o.int('payload-size', d.payloadSize, HEADER_SIZE, 256 * 1024 * 1024),
    rate: o.number('rate', 0, { min: 0 }),
    timeoutMs: o.number('timeout', 10, { min: 0.001, max: 86_400 }) * 1000,
    threads: o.int('threads', os.availableParallelism(), 1, 1024),
    source: parseSource(o.string('source')),
    keepalive: o.int('keepalive', d.keepalive, 0, 65535),
    json: o.flag('json'),
    gateExpr,
    gate,
    allowQos0Loss: o.flag('allow-qos0-loss'),
    dump: o.flag('dump'),
  };
}

/** Flag values as the JSON report's `params` shows them. */
export function commonParams(c: CommonOptions): Record<string, unknown> {
  return {
    host: c.host, port: c.port, user: c.user ?? null, pass: c.pass === undefined ? null : '***', id: c.id ?? null,
    qos: c.qos, protocol: c.protocol, payloadSize: c.payloadSize, rate: c.rate, timeout: c.timeoutMs / 1000,
    threads: c.threads, source: c.source.length > 0 ? c.source : null, keepalive: c.keepalive,
    json: c.json, gate: c.gateExpr, allowQos0Loss: c.allowQos0Loss, dump: c.dump,
  };
}

function parseProtocol(v: string): '3.1' | '3.1.1' | '5' {
  switch (v) {
    case '3.1': case '3': return '3.1';
    case '3.1.1': case '4': return '3.1.1';
    case '5': case '5.0': return '5';
    default: throw new UsageError(`--protocol must be 3.1, 3.1.1 or 5, got "${v}"`);
  }
}

export function splitHostPort(v: string): [string, number | undefined] {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracket !== null) return [bracket[1], bracket[2] === undefined ? undefined : portOf(bracket[2])];
  const parts = v.split(':');
  if (parts.length === 2) return [parts[0] || 'localhost', portOf(parts[1])];
  return [v, undefined]; // a bare name, IPv4, or unbracketed IPv6 without port
}

function portOf(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`bad port "${s}" in --host`);
  return n;
}

/** "127.0.0.1-127.0.0.16", "127.0.0.1-16", "10.0.0.1,10.0.0.2" or one address. */
export function parseSource(v: string | undefined): string[] {
  if (v === undefined || v === '') return [];
  const out: string[] = [];
  for (const part of v.split(',')) {
    const [a, b] = part.trim().split('-');
    const from = ipv4ToInt(a);
    let to = from;
    if (b !== undefined) to = /^\d+$/.test(b) ? from - (from % 256) + Number(b) : ipv4ToInt(b);
    if (to < from || to - from >= 65536) throw new UsageError(`--source range "${part}" is empty or too wide`);
    for (let n = from; n <= to; n++) out.push(intToIpv4(n));
  }
  return out;
}

function ipv4ToInt(s: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m === null || m.slice(1).some((x) => Number(x) > 255)) throw new UsageError(`--source: "${s}" is not an IPv4 address`);
  return ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// How every connection of a run is made, in a form that can be posted to a worker thread.
import { randomClientId, type ClientOptions } from './client.ts';
import type { CommonOptions } from './common-options.ts';
import type { ProtocolLevel, QoS } from './packets.ts';

export interface ConnSettings {
  /** Resolved broker address. */
  host: string;
  port: number;
  level: ProtocolLevel;
  keepalive: number;
  user: string | undefined;
  pass: string | undefined;
  id: string | undefined;
  timeoutMs: number;
  dump: boolean;
  source: string[];
  qos: QoS;
  subQos: QoS;
  payloadSize: number;
}

export function connSettings(c: CommonOptions, ip: string): ConnSettings {
  return {
    host: ip, port: c.port, level: c.level, keepalive: c.keepalive, user: c.user, pass: c.pass, id: c.id,
    timeoutMs: c.timeoutMs, dump: c.dump, source: c.source, qos: c.qos, subQos: c.subQos, payloadSize: c.payloadSize,
  };
}

/** Options for connection number `n` of the run (numbers pick the source address round-robin). */
export function clientOptions(s: ConnSettings, label: string, n: number): ClientOptions {
  return {
    host: s.host,
    port: s.port,
    localAddress: s.source.length > 0 ? s.source[n % s.source.length] : undefined,
    clientId: s.id ?? randomClientId(),
    level: s.level,
    keepalive: s.keepalive,
    username: s.user,
    password: s.pass,
    timeoutMs: s.timeoutMs,
    dumpLabel: s.dump ? label : undefined,
  };
}

/** Splits 0..n-1 round-robin over `parts` lists. */
export function spread(n: number, parts: number): number[][] {
  const out: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < n; i++) out[i % parts].push(i);
  return out;
}

/** At most `total` CONNECTs in flight over the whole run, shared fairly by the threads. */
export function perThread(total: number, threads: number): number {
  return Math.max(1, Math.floor(total / threads));
}

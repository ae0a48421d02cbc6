// The figures every tool reports, in the fixed JSON shape `bench:compare` and `bench:gate`
// read, and the arithmetic that derives them from raw counts.
import type { LatencySummary } from './histogram.ts';

export interface Figures {
  connectMs: number;
  connectRate: number;
  elapsedMs: number;
  sent: number;
  received: number;
  expected: number;
  /** Delivered messages per second (pingtest: the seed's messages/sec). */
  rate: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  latency: LatencySummary;
  connections: number;
  connectFailures: Record<string, number>;
  brokerRssPerConnBytes: number | null;
  /** Beyond the fixed contract: publishes per second. */
  publishRate: number;
  /** Beyond the fixed contract (loadtest, QoS 1/2): publish→PUBACK / publish→PUBREC latency. */
  ackLatency?: LatencySummary;
}

export interface RawCounts {
  connectMs: number;
  connections: number;
  elapsedMs: number;
  sent: number;
  received: number;
  unique: number;
  expected: number;
  duplicated: number;
  outOfOrder: number;
  /** Messages the rate counts; defaults to `received`. */
  delivered?: number;
  latency: LatencySummary;
  connectFailures: Record<string, number>;
  brokerRssPerConnBytes?: number | null;
}

export function computeFigures(raw: RawCounts): Figures {
  const perSecond = (n: number, ms: number): number => (ms > 0 ? round3((n * 1000) / ms) : 0);
  return {
    connectMs: round3(raw.connectMs),
    connectRate: perSecond(raw.connections, raw.connectMs),
    elapsedMs: round3(raw.elapsedMs),
    sent: raw.sent,
    received: raw.received,
    expected: raw.expected,
    rate: perSecond(raw.delivered ?? raw.received, raw.elapsedMs),
    lost: Math.max(0, raw.expected - raw.unique),
    duplicated: raw.duplicated,
    outOfOrder: raw.outOfOrder,
    latency: raw.latency,
    connections: raw.connections,
    connectFailures: raw.connectFailures,
    brokerRssPerConnBytes: raw.brokerRssPerConnBytes ?? null,
    publishRate: perSecond(raw.sent, raw.elapsedMs),
  };
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export function addFailures(into: Record<string, number>, from: Record<string, number>): void {
  for (const [code, n] of Object.entries(from)) into[code] = (into[code] ?? 0) + n;
}

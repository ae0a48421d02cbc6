// From the list of runs to one row per broker and one ratio row per other broker.
import { median, ratios } from './stats.ts';
import type { BrokerSummary, RatioRow, RunRecord } from './types.ts';

/** "lost 12 in round 2"; the same reason in several rounds is listed once with all of them */
function describeFailures(runs: readonly RunRecord[]): string[] {
  const rounds = new Map<string, number[]>();
  for (const r of runs) {
    if (r.ok) continue;
    const reason = r.failure ?? 'failed';
    rounds.set(reason, [...(rounds.get(reason) ?? []), r.round]);
  }
  return [...rounds].map(([reason, rs]) => `${reason} in round${rs.length > 1 ? 's' : ''} ${rs.join(', ')}`);
}

/** Broker CPU µs per message the tool received; null without either. */
function cpuPerMessage(r: RunRecord): number | null {
  const n = r.figures?.messages;
  return r.brokerCpuSeconds !== null && typeof n === 'number' && n > 0 ? (r.brokerCpuSeconds * 1e6) / n : null;
}

export function summarize(brokers: readonly string[], runs: readonly RunRecord[]): BrokerSummary[] {
  return brokers.map((broker) => {
    const mine = runs.filter((r) => r.broker === broker);
    // Medians use only runs that count: a run that lost messages did less work and would
    // flatter the broker that lost them.
    const ok = mine.filter((r) => r.ok);
    return {
      broker,
      runs: mine.length,
      okRuns: ok.length,
      rate: median(ok.map((r) => r.figures?.rate)),
      connectRate: median(ok.map((r) => r.figures?.connectRate)),
      p50: median(ok.map((r) => r.figures?.p50)),
      p99: median(ok.map((r) => r.figures?.p99)),
      cpuSeconds: median(ok.map((r) => r.brokerCpuSeconds)),
      cpuPerMessage: median(ok.map(cpuPerMessage)),
      peakRssBytes: median(ok.map((r) => r.brokerPeakRssBytes)),
      rssPerConnBytes: median(ok.map((r) => r.figures?.rssPerConnBytes)),
      ...(ok.some((r) => r.figures?.ackP99 != null) ? { ackP99: median(ok.map((r) => r.figures?.ackP99)) } : {}),
      ...(ok.some((r) => r.figures?.costPercent != null) ? { costPercent: median(ok.map((r) => r.figures?.costPercent)) } : {}),
      ...(ok.some((r) => r.figures?.extraCpuUs != null) ? { extraCpuUs: median(ok.map((r) => r.figures?.extraCpuUs)) } : {}),
      lost: mine.reduce((sum, r) => sum + (r.figures?.lost ?? 0), 0),
      failures: describeFailures(mine),
    };
  });
}

export function ratioRows(baseline: string, summary: readonly BrokerSummary[]): RatioRow[] {
  const base = summary.find((s) => s.broker === baseline);
  if (!base) return [];
  return summary
    .filter((s) => s.broker !== baseline)
    .map((other) => ({ baseline, other: other.broker, ...ratios(base, other) }));
}

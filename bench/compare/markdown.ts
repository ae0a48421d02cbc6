// Renders a Comparison as Markdown: a medians table, a ratios table, then every run, so a
// reader can see the spread behind each median and any failed round.
import { fmtFixed, fmtInt, fmtKiB, fmtMiB, fmtRatio, fmtSig } from './format.ts';
import type { BrokerSummary, Comparison, RatioRow } from './types.ts';

type Align = 'l' | 'r';
interface Column<T> {
  title: string;
  align: Align;
  cell: (x: T) => string;
}

const escape = (c: string): string => c.replaceAll('|', '\\|');

function table<T>(columns: readonly Column<T>[], rows: readonly T[]): string[] {
  return [
    `| ${columns.map((c) => c.title).join(' | ')} |`,
    `|${columns.map((c) => (c.align === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${columns.map((c) => escape(c.cell(r))).join(' | ')} |`),
  ];
}

export function renderMarkdown(c: Comparison): string {
  const out: string[] = [];
  const args = c.toolArgs.length ? c.toolArgs.join(' ') : '(tool defaults)';
  const shards = c.brokers.includes('shoal') ? ` · shoal --shards ${c.shards}` : '';
  out.push(`## bench:compare — ${c.workload}`, '');
  out.push(`\`${c.workload} ${args}\` · ${c.rounds} round(s), order rotated each round, fresh broker per run` +
    `${c.warmup ? ', one unmeasured warm-up run per broker' : ''}${shards}`);
  out.push(`${c.env.cpu} · ${c.env.cores} cores · load ${c.env.loadAvg1} · node ${c.env.node} · git ${c.env.git} · ${c.env.time}`, '');
  for (const s of c.skipped) out.push(`- ${s.broker}: skipped (${s.reason})`);
  if (c.skipped.length) out.push('');

  // Only `many` reports memory per connection; other workloads would show an empty column.
  const perConn = c.summary.some((s) => s.rssPerConnBytes !== null);
  // Only tools that count messages received (loadtest, pingtest) give CPU per message.
  const perMsg = c.summary.some((s) => s.cpuPerMessage !== null);
  // Only QoS 1/2 loadtests time publish→PUBACK.
  const ack = c.summary.some((s) => s.ackP99 !== undefined && s.ackP99 !== null);
  // Only isolation --with-baseline reports a cost, and with the admin port a layout.
  const cost = c.summary.some((s) => s.costPercent != null);
  const extraCpu = c.summary.some((s) => s.extraCpuUs != null);
  const layout = c.runs.some((r) => r.figures?.layout != null);
  const summaryColumns: Column<BrokerSummary>[] = [
    { title: 'broker', align: 'l', cell: (s) => s.broker },
    { title: 'runs ok', align: 'r', cell: (s) => `${s.okRuns}/${s.runs}` },
    { title: 'rate (msg/s)', align: 'r', cell: (s) => fmtInt(s.rate) },
    { title: 'p50 (ms)', align: 'r', cell: (s) => fmtSig(s.p50) },
    { title: 'p99 (ms)', align: 'r', cell: (s) => fmtSig(s.p99) },
    ...(ack ? [{ title: 'ack p99 (ms)', align: 'r' as const, cell: (s: BrokerSummary) => fmtSig(s.ackP99 ?? null) }] : []),
    { title: 'connect rate (/s)', align: 'r', cell: (s) => fmtInt(s.connectRate) },
    { title: 'lost (sum)', align: 'r', cell: (s) => String(s.lost) },
    { title: 'broker CPU (s)', align: 'r', cell: (s) => fmtFixed(s.cpuSeconds, 2) },
    ...(perMsg ? [{ title: 'CPU/msg (µs)', align: 'r' as const, cell: (s: BrokerSummary) => fmtFixed(s.cpuPerMessage, 2) }] : []),
    ...(cost ? [{ title: 'cost %', align: 'r' as const, cell: (s: BrokerSummary) => fmtFixed(s.costPercent ?? null, 1) }] : []),
    ...(extraCpu ? [{ title: 'extra CPU/msg (µs)', align: 'r' as const, cell: (s: BrokerSummary) => fmtFixed(s.extraCpuUs ?? null, 2) }] : []),
    { title: 'peak RSS (MiB)', align: 'r', cell: (s) => fmtMiB(s.peakRssBytes) },
    ...(perConn ? [{ title: 'RSS/conn (KiB)', align: 'r' as const, cell: (s: BrokerSummary) => fmtKiB(s.rssPerConnBytes) }] : []),
    { title: 'failures', align: 'l', cell: (s) => s.failures.join('; ') },
  ];
  out.push('Medians over the runs that counted (no loss, exit 0); lost is the sum over all runs.', '');
  out.push(...table(summaryColumns, c.summary));

  if (c.ratios.length) {
    const ratioColumns: Column<RatioRow>[] = [
      { title: 'vs', align: 'l', cell: (r) => r.other },
      { title: 'rate', align: 'r', cell: (r) => fmtRatio(r.rate) },
      { title: 'connect rate', align: 'r', cell: (r) => fmtRatio(r.connectRate) },
      { title: 'p50', align: 'r', cell: (r) => fmtRatio(r.p50) },
      { title: 'p99', align: 'r', cell: (r) => fmtRatio(r.p99) },
      { title: 'CPU', align: 'r', cell: (r) => fmtRatio(r.cpuSeconds) },
      ...(perMsg ? [{ title: 'CPU/msg', align: 'r' as const, cell: (r: RatioRow) => fmtRatio(r.cpuPerMessage) }] : []),
      { title: 'RSS', align: 'r', cell: (r) => fmtRatio(r.peakRssBytes) },
      ...(perConn ? [{ title: 'RSS/conn', align: 'r' as const, cell: (r: RatioRow) => fmtRatio(r.rssPerConnBytes) }] : []),
    ];
    out.push('', `${c.baseline} against each other broker; above 1× means ${c.baseline} did better ` +
      `(rate: ${c.baseline}/other; latency, CPU, RSS: other/${c.baseline}).`, '');
    out.push(...table(ratioColumns, c.ratios));
  }

  type Run = Comparison['runs'][number];
  const runColumns: Column<Run>[] = [
    { title: 'round', align: 'r', cell: (r) => String(r.round) },
    { title: '#', align: 'r', cell: (r) => String(r.position) },
    { title: 'broker', align: 'l', cell: (r) => r.broker },
    { title: 'rate (msg/s)', align: 'r', cell: (r) => fmtInt(r.figures?.rate ?? null) },
    { title: 'p50 (ms)', align: 'r', cell: (r) => fmtSig(r.figures?.p50 ?? null) },
    { title: 'p99 (ms)', align: 'r', cell: (r) => fmtSig(r.figures?.p99 ?? null) },
    { title: 'lost', align: 'r', cell: (r) => (r.figures ? String(r.figures.lost) : '—') },
    { title: 'broker CPU (s)', align: 'r', cell: (r) => fmtFixed(r.brokerCpuSeconds, 2) },
    ...(cost ? [{ title: 'cost %', align: 'r' as const, cell: (r: Run) => fmtFixed(r.figures?.costPercent ?? null, 1) }] : []),
    ...(extraCpu ? [{ title: 'extra CPU/msg (µs)', align: 'r' as const, cell: (r: Run) => fmtFixed(r.figures?.extraCpuUs ?? null, 2) }] : []),
    ...(layout ? [{ title: 'layout (baseline/measured)', align: 'l' as const, cell: (r: Run) => r.figures?.layout ?? '—' }] : []),
    { title: 'peak RSS (MiB)', align: 'r', cell: (r) => fmtMiB(r.brokerPeakRssBytes) },
    { title: 'status', align: 'l', cell: (r) => (r.ok ? 'ok' : (r.failure ?? 'failed')) },
  ];
  out.push('', '<details><summary>All runs</summary>', '');
  out.push(...table(runColumns, c.runs));
  out.push('', '</details>', '');
  return out.join('\n');
}

// Renders a Comparison as Markdown: a medians table, a ratios table, then every run, so a
// reader can see the spread behind each median and any failed round.
import { fmtFixed, fmtInt, fmtMiB, fmtRatio, fmtSig } from './format.ts';
import type { Comparison } from './types.ts';

const row = (cells: readonly string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
const rule = (aligns: readonly ('l' | 'r')[]): string => `|${aligns.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`;

export function renderMarkdown(c: Comparison): string {
  const out: string[] = [];
  const args = c.toolArgs.length ? c.toolArgs.join(' ') : '(tool defaults)';
  out.push(`## bench:compare — ${c.workload}`, '');
  const shards = c.brokers.includes('shoal') ? ` · shoal --shards ${c.shards}` : '';
  out.push(`\`${c.workload} ${args}\` · ${c.rounds} round(s), order rotated each round, fresh broker per run` +
    `${c.warmup ? ', one unmeasured warm-up run per broker' : ''}${shards}`);
  out.push(`${c.env.cpu} · ${c.env.cores} cores · node ${c.env.node} · git ${c.env.git} · ${c.env.time}`, '');
  for (const s of c.skipped) out.push(`- ${s.broker}: skipped (${s.reason})`);
  if (c.skipped.length) out.push('');

  out.push('Medians over the runs that counted (no loss, exit 0); lost is the sum over all runs.', '');
  out.push(row(['broker', 'runs ok', 'rate (msg/s)', 'p50 (ms)', 'p99 (ms)', 'connect rate (/s)', 'lost (sum)',
    'broker CPU (s)', 'peak RSS (MiB)', 'failures']));
  out.push(rule(['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']));
  for (const s of c.summary) {
    out.push(row([s.broker, `${s.okRuns}/${s.runs}`, fmtInt(s.rate), fmtSig(s.p50), fmtSig(s.p99), fmtInt(s.connectRate),
      String(s.lost), fmtFixed(s.cpuSeconds, 2), fmtMiB(s.peakRssBytes), s.failures.join('; ')]));
  }

  if (c.ratios.length) {
    out.push('', `${c.baseline} against each other broker; above 1× means ${c.baseline} did better ` +
      `(rate: ${c.baseline}/other; latency, CPU, RSS: other/${c.baseline}).`, '');
    out.push(row(['vs', 'rate', 'connect rate', 'p50', 'p99', 'CPU', 'RSS']));
    out.push(rule(['l', 'r', 'r', 'r', 'r', 'r', 'r']));
    for (const r of c.ratios) {
      out.push(row([r.other, fmtRatio(r.rate), fmtRatio(r.connectRate), fmtRatio(r.p50), fmtRatio(r.p99),
        fmtRatio(r.cpuSeconds), fmtRatio(r.peakRssBytes)]));
    }
  }

  out.push('', '<details><summary>All runs</summary>', '');
  out.push(row(['round', '#', 'broker', 'rate (msg/s)', 'p50 (ms)', 'p99 (ms)', 'lost', 'broker CPU (s)', 'peak RSS (MiB)', 'status']));
  out.push(rule(['r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']));
  for (const r of c.runs) {
    const f = r.figures;
    out.push(row([String(r.round), String(r.position), r.broker, fmtInt(f?.rate ?? null), fmtSig(f?.p50 ?? null),
      fmtSig(f?.p99 ?? null), f ? String(f.lost) : '—', fmtFixed(r.brokerCpuSeconds, 2), fmtMiB(r.brokerPeakRssBytes),
      r.ok ? 'ok' : (r.failure ?? 'failed')]));
  }
  out.push('', '</details>', '');
  return out.join('\n');
}

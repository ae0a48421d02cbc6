// One stderr line per finished run, so a long comparison shows it is alive and what each
// run gave, without disturbing the table or JSON on stdout.
import { fmtFixed, fmtInt, fmtSig } from './format.ts';
import type { RunRecord } from './types.ts';

export function progressLine(r: RunRecord, total: number, perRound: number): string {
  const index = (r.round - 1) * perRound + r.position;
  const f = r.figures;
  const figures = f ? `${fmtInt(f.rate)} msg/s, p99 ${fmtSig(f.p99)} ms, CPU ${fmtFixed(r.brokerCpuSeconds, 2)} s` : 'no figures';
  return `[${index}/${total}] round ${r.round} ${r.broker}: ${figures}${r.ok ? '' : ` — FAILED: ${r.failure ?? ''}`}`;
}

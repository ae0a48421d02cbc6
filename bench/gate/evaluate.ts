// Judges one comparison against one gate's required ratios. Pure, so the pass and fail
// cases are tested on known numbers.
import { fmtRatio } from '../compare/format.ts';
import type { Comparison, Metric } from '../compare/types.ts';
import type { GateSpec } from './config.ts';

export interface GateCheck {
  gate: string;
  /** the broker Shoal is compared with, or the baseline itself for the clean-runs check */
  broker: string;
  metric: Metric | 'clean runs';
  required: number | null;
  actual: number | null;
  pass: boolean;
  /** one line for the log: what was required, what was measured, or why it was skipped */
  detail: string;
}

export function evaluateGate(spec: GateSpec, c: Comparison): GateCheck[] {
  const checks: GateCheck[] = [];
  const base = c.summary.find((s) => s.broker === c.baseline);
  // A baseline that lost messages or crashed fails the gate whatever its speed: a fast
  // broker that drops messages is not faster.
  const baseFailures = base ? base.failures : [`${c.baseline} did not run`];
  checks.push({
    gate: spec.name, broker: c.baseline, metric: 'clean runs', required: null, actual: base?.okRuns ?? 0,
    pass: baseFailures.length === 0,
    detail: baseFailures.length === 0 ? `${c.baseline}: all ${base?.runs ?? 0} runs clean` : `${c.baseline}: ${baseFailures.join('; ')}`,
  });
  for (const [broker, metrics] of Object.entries(spec.require)) {
    const skipped = c.skipped.find((s) => s.broker === broker);
    const row = c.ratios.find((r) => r.other === broker);
    const other = c.summary.find((s) => s.broker === broker);
    for (const [metric, required] of Object.entries(metrics) as [Metric, number][]) {
      const label = `${c.baseline}/${broker} ${metric}`;
      if (skipped) {
        // Mosquitto is optional on a developer machine; the gate compares against what is here.
        checks.push({ gate: spec.name, broker, metric, required, actual: null, pass: true, detail: `${label}: skipped (${skipped.reason})` });
        continue;
      }
      const actual = row ? row[metric] : null;
      if (actual === null) {
        const why = other && other.okRuns === 0 ? `no run of ${broker} counted: ${other.failures.join('; ')}` : 'no figure to compare';
        checks.push({ gate: spec.name, broker, metric, required, actual, pass: false, detail: `${label}: ${why}` });
        continue;
      }
      const pass = actual >= required;
      checks.push({
        gate: spec.name, broker, metric, required, actual, pass,
        detail: `${label} ${fmtRatio(actual)} ${pass ? '≥' : '<'} required ${fmtRatio(required)}`,
      });
    }
  }
  return checks;
}

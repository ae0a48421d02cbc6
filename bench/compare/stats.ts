// Medians and ratios: the only arithmetic in a comparison, kept pure so tests pin it down.
import { HIGHER_IS_BETTER, METRICS, type Metric, type MetricValues } from './types.ts';

/** median of the finite values; null for none. Even counts average the middle two. */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/**
 * How much better `baseline` did than `other` on a metric: baseline/other when higher is
 * better, other/baseline when lower is. Null when either is missing or a division would
 * be by zero (a ratio of 0 or Infinity would pass or fail a gate for no real reason).
 */
export function ratio(metric: Metric, baseline: number | null, other: number | null): number | null {
  if (baseline === null || other === null) return null;
  const [num, den] = HIGHER_IS_BETTER[metric] ? [baseline, other] : [other, baseline];
  if (den === 0 || !Number.isFinite(num) || !Number.isFinite(den)) return null;
  return num / den;
}

export function ratios(baseline: MetricValues, other: MetricValues): MetricValues {
  const out = {} as MetricValues;
  for (const m of METRICS) out[m] = ratio(m, baseline[m], other[m]);
  return out;
}

// --gate "p99<5ms,rate>100000,lost=0": thresholds that turn a run into pass/fail for CI.
// Shared with bench:gate, which evaluates the same expressions over saved JSON reports.
import type { Figures } from './figures.ts';

export const LATENCY_NAMES = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
export const COUNT_NAMES = [
  'rate', 'lost', 'duplicated', 'outOfOrder', 'received', 'connections', 'connectRate', 'connectMs', 'elapsedMs',
] as const;
export type LatencyName = (typeof LATENCY_NAMES)[number];
export type CountName = (typeof COUNT_NAMES)[number];
export type GateName = LatencyName | CountName;
export type GateOp = '<' | '<=' | '>' | '>=' | '=';

export interface GateTerm {
  /** The term as written, trimmed. */
  term: string;
  name: GateName;
  op: GateOp;
  /** Threshold; for latency names always in milliseconds. */
  value: number;
}

export interface GateResult {
  term: string;
  /** The figure compared (latency in ms); null when there is none, e.g. no latency samples. */
  actual: number | null;
  pass: boolean;
}

export interface GateOutcome {
  pass: boolean;
  results: GateResult[];
}

/** The figures a gate reads; a full Figures object fits. */
export type GateFigures = Pick<Figures, CountName> & { latency: Pick<Figures['latency'], LatencyName | 'count'> };

export class GateError extends Error {}

const TERM = /^([A-Za-z][A-Za-z0-9]*)\s*(<=|>=|<|>|=)\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zµ]*)$/;
const UNIT_TO_MS: Record<string, number> = { '': 1, ms: 1, us: 0.001, 'µs': 0.001, s: 1000 };

export function parseGate(expr: string): GateTerm[] {
  if (expr.trim() === '') throw new GateError('empty gate expression');
  return expr.split(',').map((raw) => {
    const term = raw.trim();
    const m = TERM.exec(term);
    if (m === null) throw new GateError(`malformed gate term "${term}": expected NAME OP NUMBER[UNIT], e.g. p99<5ms`);
    const [, name, op, num, unit] = m;
    const isLatency = (LATENCY_NAMES as readonly string[]).includes(name);
    if (!isLatency && !(COUNT_NAMES as readonly string[]).includes(name)) {
      throw new GateError(`unknown gate figure "${name}" in "${term}" (known: ${[...LATENCY_NAMES, ...COUNT_NAMES].join(' ')})`);
    }
    let value = Number(num);
    if (isLatency) {
      const scale = UNIT_TO_MS[unit];
      if (scale === undefined) throw new GateError(`unknown unit "${unit}" in "${term}" (ms, us, s)`);
      value *= scale;
    } else if (unit !== '') {
      throw new GateError(`"${name}" takes no unit, got "${unit}" in "${term}"`);
    }
    return { term, name: name as GateName, op: op as GateOp, value };
  });
}

export function evaluateGate(terms: GateTerm[], figures: GateFigures): GateOutcome {
  const results = terms.map((t): GateResult => {
    const actual = figureOf(t.name, figures);
    return { term: t.term, actual, pass: actual !== null && compare(actual, t.op, t.value) };
  });
  return { pass: results.every((r) => r.pass), results };
}

function figureOf(name: GateName, f: GateFigures): number | null {
  if ((LATENCY_NAMES as readonly string[]).includes(name)) {
    return f.latency.count > 0 ? f.latency[name as LatencyName] : null;
  }
  return f[name as CountName];
}

function compare(a: number, op: GateOp, b: number): boolean {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '=': return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  }
}

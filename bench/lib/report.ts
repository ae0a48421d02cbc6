// The end of every run: one JSON object (--json) or the seed's human lines plus the new
// figures, the pass/fail verdict, and the exit code.
import type { Figures } from './figures.ts';
import { evaluateGate, type GateOutcome, type GateTerm } from './gate.ts';
import type { EnvInfo } from './sysinfo.ts';
import type { QoS } from './packets.ts';
import { EXIT_FAIL, EXIT_PASS, EXIT_USAGE } from './errors.ts';

export interface Report {
  tool: string;
  version: 1;
  params: Record<string, unknown>;
  env: EnvInfo;
  figures: Figures;
  gate: (GateOutcome & { expr: string }) | null;
  pass: boolean;
  /** Why the run failed, in words, when it did. */
  failures: string[];
  /** Set when the run could not be carried out (connection limit, refused...). */
  error: { code: string; message: string } | null;
}

export interface VerdictInput {
  figures: Figures;
  qos: QoS;
  allowQos0Loss: boolean;
  gate: GateTerm[] | null;
}

export function verdict(v: VerdictInput): { pass: boolean; failures: string[]; gate: GateOutcome | null } {
  const f = v.figures;
  const failures: string[] = [];
  if (f.lost > 0 && !(v.qos === 0 && v.allowQos0Loss)) {
    failures.push(`${f.lost} of ${f.expected} messages lost at QoS ${v.qos}${v.qos === 0 ? ' (--allow-qos0-loss to accept)' : ''}`);
  }
  // QoS 1 may deliver twice; QoS 0 and 2 promise at most once.
  if (f.duplicated > 0 && v.qos !== 1) failures.push(`${f.duplicated} messages delivered twice at QoS ${v.qos}`);
  if (f.outOfOrder > 0) failures.push(`${f.outOfOrder} messages out of order`);
  const gate = v.gate === null ? null : evaluateGate(v.gate, f);
  if (gate !== null && !gate.pass) failures.push(`gate failed: ${gate.results.filter((r) => !r.pass).map((r) => `${r.term} (actual ${r.actual ?? 'none'})`).join(', ')}`);
  return { pass: failures.length === 0, failures, gate };
}

/** Prints the report and sets the exit code: 0 pass, 1 loss or failed gate, 2 could not run. */
export function emit(report: Report, json: boolean, humanLines: string[]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const out = [...humanLines];
    if (report.gate !== null) {
      for (const r of report.gate.results) out.push(`gate ${r.term}: ${r.pass ? 'pass' : 'FAIL'} (actual ${r.actual ?? 'none'})`);
    }
    for (const f of report.failures) out.push(`FAIL: ${f}`);
    if (report.error !== null) out.push(`ERROR: ${report.error.message}`);
    out.push(`result: ${report.pass ? 'PASS' : 'FAIL'}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // In --json mode say it in words on stderr too; in text mode the ERROR line says it.
  if (report.error !== null && json) process.stderr.write(`${report.error.message}\n`);
  process.exitCode = report.error !== null ? EXIT_USAGE : report.pass ? EXIT_PASS : EXIT_FAIL;
}

/** The lines every tool prints: the seed's labels first. */
export function commonLines(f: Figures, latencyLabel: string, stddevMs: number): string[] {
  const l = f.latency;
  const lines = [
    `time to establish connections: ${ms(f.connectMs)} (${f.connections} connections, ${Math.round(f.connectRate)} conn/s)`,
    `elapsed time: ${ms(f.elapsedMs)}`,
  ];
  lines.push(`sent ${f.sent}, received ${f.received}, expected ${f.expected}: lost ${f.lost}, duplicated ${f.duplicated}, out of order ${f.outOfOrder}`);
  lines.push(l.count === 0
    ? `${latencyLabel}: no samples`
    : `${latencyLabel} (ms, ${l.count} samples): p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  min ${l.min}  mean ${l.mean}  stddev ${stddevMs}`);
  const failed = Object.entries(f.connectFailures);
  if (failed.length > 0) lines.push(`connect failures: ${failed.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  return lines;
}

export function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(3)} s` : `${v.toFixed(3)} ms`;
}

/**
 * The report of a run: the verdict on its figures and gate, and the error that cut it short
 * (if any). With an error the verdict's failures are dropped unless `keepFailures` (they
 * describe a run that did not happen), and the run does not pass.
 */
export function makeReport(
  tool: string, params: Record<string, unknown>, env: EnvInfo, figures: Figures,
  common: { qos: QoS; allowQos0Loss: boolean; gate: GateTerm[] | null; gateExpr?: string | null },
  error: Report['error'], keepFailures = false,
): Report {
  const v = verdict({ figures, qos: common.qos, allowQos0Loss: common.allowQos0Loss, gate: common.gate });
  return {
    tool, version: 1, params, env, figures,
    gate: v.gate === null ? null : { expr: common.gateExpr ?? '', ...v.gate },
    pass: v.pass && error === null, failures: error === null || keepFailures ? v.failures : [], error,
  };
}

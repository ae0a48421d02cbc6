// Turns what a tool printed into figures and a verdict. The verdict is strict: a run that
// lost, duplicated or reordered anything, or exited non-zero, does not count toward medians.
import type { RunFigures, ToolReport } from './types.ts';
import type { ToolRun } from './run-tool.ts';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The tool's JSON object, or null. Tolerates log lines before it on stdout. */
export function parseToolReport(stdout: string): ToolReport | null {
  const candidates = [stdout.trim(), ...stdout.split('\n').filter((l) => l.trimStart().startsWith('{')).reverse()];
  for (const text of candidates) {
    if (!text) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    if (isRecord(parsed) && isRecord(parsed.figures)) {
      return {
        tool: String(parsed.tool ?? ''),
        version: Number(parsed.version ?? 0),
        params: isRecord(parsed.params) ? parsed.params : {},
        env: isRecord(parsed.env) ? parsed.env : {},
        figures: parsed.figures,
        gate: parsed.gate ?? null,
        pass: parsed.pass !== false,
        ...(isRecord(parsed.soak) ? { soak: parsed.soak } : {}),
      };
    }
  }
  return null;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

export function extractFigures(report: ToolReport): RunFigures {
  const f = report.figures;
  const latency = isRecord(f.latency) ? f.latency : {};
  return {
    rate: num(f.rate),
    p50: num(latency.p50),
    p99: num(latency.p99),
    connectRate: num(f.connectRate),
    lost: num(f.lost) ?? 0,
    duplicated: num(f.duplicated) ?? 0,
    outOfOrder: num(f.outOfOrder) ?? 0,
    elapsedMs: num(f.elapsedMs),
    rssPerConnBytes: num(f.brokerRssPerConnBytes),
    ...(isRecord(f.ackLatency) ? { ackP99: num(f.ackLatency.p99) } : {}),
    ...(num(f.received) !== null ? { messages: num(f.received) } : {}),
    ...(isRecord(f.isolation) ? isolationFigures(f.isolation) : {}),
  };
}

function isolationFigures(i: Record<string, unknown>): Pick<RunFigures, 'costPercent' | 'layout' | 'extraCpuUs'> {
  const str = (x: unknown): string => (typeof x === 'string' ? x : '?');
  const layout = i.layout === null && i.baselineLayout === null ? null : `${str(i.baselineLayout)}/${str(i.layout)}`;
  return { costPercent: num(i.costPercent), layout, extraCpuUs: num(i.extraCpuUsPerMessage) };
}

/** null when the run counts, else a short reason such as "exit 1, lost 12" */
export function judgeRun(run: ToolRun, report: ToolReport | null, figures: RunFigures | null): string | null {
  const reasons: string[] = [];
  if (run.timedOut) reasons.push(`timed out after ${Math.round(run.wallMs / 1000)} s`);
  else if (run.signal) reasons.push(`killed by ${run.signal}`);
  else if (run.exitCode !== 0) reasons.push(`exit ${String(run.exitCode)}`);
  if (!report) {
    const hint = run.stderrTail.trim().split('\n').pop()?.slice(0, 200);
    reasons.push(hint ? `no JSON (${hint})` : 'no JSON');
    return reasons.join(', ');
  }
  if (figures && figures.lost > 0) reasons.push(`lost ${figures.lost}`);
  if (figures && figures.duplicated > 0) reasons.push(`duplicated ${figures.duplicated}`);
  if (figures && figures.outOfOrder > 0) reasons.push(`out of order ${figures.outOfOrder}`);
  if (!report.pass && reasons.length === 0) reasons.push('tool reported fail');
  return reasons.length ? reasons.join(', ') : null;
}

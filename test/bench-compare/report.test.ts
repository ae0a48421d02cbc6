import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractFigures, judgeRun, parseToolReport } from '../../bench/compare/report.ts';
import type { ToolRun } from '../../bench/compare/run-tool.ts';

const report = (figures: Record<string, unknown>, pass = true): string =>
  JSON.stringify({ tool: 'loadtest', version: 1, params: {}, env: {}, figures, gate: null, pass });
const exited = (exitCode: number | null, stdout: string, extra: Partial<ToolRun> = {}): ToolRun =>
  ({ exitCode, signal: null, stdout, stderrTail: '', timedOut: false, wallMs: 1000, ...extra });

test('the JSON object is found even after log lines on stdout', () => {
  const text = `warming up\n${report({ rate: 5, latency: { p50: 1, p99: 2 } })}\n`;
  const r = parseToolReport(text)!;
  assert.equal(r.tool, 'loadtest');
  assert.deepEqual(extractFigures(r), { rate: 5, p50: 1, p99: 2, connectRate: null, lost: 0, duplicated: 0, outOfOrder: 0, elapsedMs: null, rssPerConnBytes: null });
  assert.equal(parseToolReport('not json'), null);
  assert.equal(parseToolReport('{"no":"figures"}'), null);
});

test('bench:many\'s soak summary survives into the comparison\'s report (regression: it was dropped)', () => {
  const soak = { samples: [], rssSlopeMiBPerMin: 0.1, cpuPercent: 3, heldMin: 19000, heldMax: 19000 };
  const withSoak = JSON.stringify({ tool: 'many', version: 1, params: {}, env: {}, figures: { rate: 5 }, gate: null, pass: true, soak });
  assert.deepEqual(parseToolReport(withSoak)!.soak, soak);
  assert.equal('soak' in parseToolReport(report({ rate: 5 }))!, false);
});

test('a clean run is ok; loss, duplicates, reordering and exit codes are named', () => {
  const clean = parseToolReport(report({ rate: 5, lost: 0 }))!;
  assert.equal(judgeRun(exited(0, ''), clean, extractFigures(clean)), null);
  const lossy = parseToolReport(report({ rate: 5, lost: 12, duplicated: 2, outOfOrder: 1 }, false))!;
  assert.equal(judgeRun(exited(1, ''), lossy, extractFigures(lossy)), 'exit 1, lost 12, duplicated 2, out of order 1');
  const gated = parseToolReport(report({ rate: 5 }, false))!;
  assert.equal(judgeRun(exited(1, ''), gated, extractFigures(gated)), 'exit 1');
  assert.equal(judgeRun(exited(0, ''), gated, extractFigures(gated)), 'tool reported fail');
});

test('no JSON, a timeout or a signal make the run fail with a hint', () => {
  assert.equal(judgeRun(exited(1, '', { stderrTail: 'boom\nError: connect ECONNREFUSED\n' }), null, null), 'exit 1, no JSON (Error: connect ECONNREFUSED)');
  assert.equal(judgeRun(exited(null, '', { timedOut: true, signal: 'SIGKILL', wallMs: 300_000 }), null, null), 'timed out after 300 s, no JSON');
  assert.equal(judgeRun(exited(null, '', { signal: 'SIGSEGV' }), null, null), 'killed by SIGSEGV, no JSON');
});

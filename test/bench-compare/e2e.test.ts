// bench:compare end to end: the real CLI, the real Aedes launcher, the stub tool (which
// really connects, subscribes and publishes through the broker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fromRoot } from '../../bench/brokers/repo-root.ts';
import type { Comparison } from '../../bench/compare/types.ts';

const run = promisify(execFile);
const STUB = fromRoot('test', 'bench-compare', 'fixtures', 'stub-tool.ts');

async function compare(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [fromRoot('bench', 'compare', 'index.ts'), ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('compare runs the stub tool against fresh Aedes brokers and records a failed round', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-compare-e2e-'));
  try {
    const out = path.join(dir, 'table.md');
    const { code, stdout, stderr } = await compare(['--workload', 'loadtest', '--tool', STUB, '--brokers', 'aedes',
      '--rounds', '3', '--json', '--out', out, '--', '--messages', '100', '--fail-once', path.join(dir, 'failed')]);
    assert.equal(code, 1, `one failed run makes the exit status 1\n${stderr}`);
    const c = JSON.parse(stdout) as Comparison;
    assert.deepEqual(c.runs.map((r) => [r.round, r.broker, r.ok]), [[1, 'aedes', false], [2, 'aedes', true], [3, 'aedes', true]]);
    assert.equal(c.runs[0]!.failure, 'exit 1, lost 12');
    assert.deepEqual(c.toolArgs.slice(0, 2), ['--messages', '100']);
    const aedes = c.summary[0]!;
    assert.equal(aedes.okRuns, 2);
    assert.equal(aedes.lost, 12);
    assert.ok(aedes.rate !== null && aedes.rate > 0);
    assert.ok(aedes.p99 !== null && aedes.p99 > 0);
    // Every run had its own broker process, measured through /proc.
    for (const r of c.runs) assert.ok(r.brokerPeakRssBytes !== null && r.brokerPeakRssBytes > 10 * 1024 * 1024);
    assert.ok(c.runs.every((r) => r.brokerCpuSeconds !== null));
    assert.match(stderr, /\[1\/3\] round 1 aedes: .* FAILED: exit 1, lost 12/);
    const md = readFileSync(out, 'utf8');
    assert.match(md, /^\| aedes \| 2\/3 \| [\d,]+ \| .* \| 12 \| .* \| exit 1, lost 12 in round 1 \|$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad usage exits 2 with the reason', async () => {
  const { code, stderr } = await compare(['--workload', 'nope']);
  assert.equal(code, 2);
  assert.match(stderr, /--workload must be one of loadtest, pingtest, many/);
  const unknown = await compare(['--workload', 'loadtest', '--brokers', 'aedes,hivemq']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown broker "hivemq"/);
});

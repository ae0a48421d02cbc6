// bench:gate end to end with the stub tool: Shoal and Aedes really start, one gate is met,
// one cannot be, and the exit status and the message say which.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fromRoot } from '../../bench/brokers/repo-root.ts';

const run = promisify(execFile);

async function gate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [fromRoot('bench', 'gate', 'index.ts'), ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('the gate passes a met ratio, fails an unmet one and names it', { timeout: 60_000 }, async () => {
  const { code, stdout, stderr } = await gate(['--config', fromRoot('test', 'bench-compare', 'fixtures', 'gates-stub.json'), '--json']);
  assert.equal(code, 1, stderr);
  const result = JSON.parse(stdout) as { pass: boolean; gates: { gate: string; checks: { pass: boolean; detail: string }[] }[] };
  assert.equal(result.pass, false);
  const [met, impossible] = result.gates;
  assert.ok(met!.checks.every((c) => c.pass), JSON.stringify(met!.checks));
  assert.deepEqual(impossible!.checks.map((c) => c.pass), [true, false]);
  assert.match(stderr, /stub: impossible: shoal\/aedes rate [\d.]+× < required 1000000\.00×/);
});

test('a config with a typo stops the gate with exit 2', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-gate-'));
  try {
    const config = path.join(dir, 'gates.json');
    writeFileSync(config, JSON.stringify({ gates: [{ workload: 'loadtest', require: { aedes: { p98: 1 } } }] }));
    const { code, stderr } = await gate(['--config', config]);
    assert.equal(code, 2);
    assert.match(stderr, /unknown metric "p98"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The fuzzer: a short CI budget against the real broker (4 shards, both protocol families),
// inputs that are a pure function of (seed, iteration), a replay of a saved batch, and a
// checker that notices what it is there to notice (a shard that dies, an error line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrokerOf } from '../helpers/broker.ts';
import { connect, sleep } from '../helpers/clients.ts';
import { buildCorpus } from '../../fuzz/corpus.ts';
import { generate, fromSaved, toSaved } from '../../fuzz/inputs.ts';
import { Checker, isErrorLine } from '../../fuzz/checker.ts';

const FUZZ = fileURLToPath(new URL('../../fuzz/index.ts', import.meta.url));

function runFuzz(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FUZZ, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

interface Summary {
  seed: number; inputs: number; crashes: number; errorLogLines: number; errorKinds: Record<string, number>;
  failure: unknown; closedByBroker: number;
}
let ci: Summary | null = null;

test('fuzz: 3,000 inputs on 4 shards, v3.1/3.1.1 and v5: broker alive, probe served, memory bounded', async () => {
  const t0 = Date.now();
  // Error lines are counted, not fatal here: the next test judges them.
  const run = await runFuzz(['--iterations', '3000', '--seed', '1201', '--shards', '4', '--allow-error-logs', '--json'], 60_000);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const s = JSON.parse(run.stdout) as Summary;
  ci = s;
  assert.equal(s.seed, 1201);
  assert.equal(s.inputs, 3000);
  assert.equal(s.crashes, 0);
  assert.equal(s.failure, null);
  // The inputs are hostile enough that the broker closes most connections itself.
  assert.ok(s.closedByBroker > 1000, `only ${s.closedByBroker} of 3000 connections closed by the broker`);
  assert.ok(Date.now() - t0 < 60_000);
});

test('fuzz: the 3,000 inputs leave no error-level log line (regression: a null connection in Delivery.write, the will property read past the CONNECT)', () => {
  assert.ok(ci !== null, 'the fuzz run did not finish');
  assert.deepEqual(ci.errorKinds, {});
});

test('fuzz inputs are a function of seed and iteration, and survive the replay file', () => {
  const corpus = buildCorpus('both');
  const a = Array.from({ length: 300 }, (_, i) => generate(corpus, 42, i));
  const b = Array.from({ length: 300 }, (_, i) => generate(corpus, 42, 299 - i)).reverse();
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, Array.from({ length: 300 }, (_, i) => generate(corpus, 43, i)));
  assert.deepEqual(a.map((x) => fromSaved(JSON.parse(JSON.stringify(toSaved(x))))), a);
  // Every kind and version shows up; a v5-only corpus makes only v5 inputs.
  assert.deepEqual(new Set(a.map((x) => x.kind)), new Set(['first', 'session', 'random']));
  assert.deepEqual(new Set(a.map((x) => x.version)), new Set([3, 4, 5]));
  const v5 = buildCorpus('5');
  assert.ok(Array.from({ length: 100 }, (_, i) => generate(v5, 1, i)).every((x) => x.version === 5));
});

test('fuzz: a failed check stops the run, saves the batch, and --replay sends it again', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-fuzz-'));
  try {
    // An RSS bound no broker meets: the first check fails.
    const run = await runFuzz(['--iterations', '1000', '--seed', '9', '--shards', '1', '--batch', '50', '--rss-limit', '1', '--out', dir, '--json'], 60_000);
    assert.equal(run.code, 1, run.stderr);
    const s = JSON.parse(run.stdout) as { inputs: number; failure: { reason: string; from: number; to: number; file: string } };
    assert.equal(s.inputs, 50);
    assert.match(s.failure.reason, /RSS .* above the bound of 1 MiB/);
    assert.deepEqual([s.failure.from, s.failure.to], [0, 49]);
    assert.match(run.stderr, /FAILED at iterations 0\.\.49 of seed 9/);
    assert.deepEqual(readdirSync(dir), [path.basename(s.failure.file)]);
    const saved = JSON.parse(readFileSync(s.failure.file, 'utf8')) as { seed: number; inputs: unknown[] };
    assert.equal(saved.seed, 9);
    assert.equal(saved.inputs.length, 50);
    const again = await runFuzz(['--replay', s.failure.file, '--rss-limit', '1'], 60_000);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /reproduced: broker RSS/);
    const healthy = await runFuzz(['--replay', s.failure.file], 60_000);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stdout, /did not reproduce/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz checker: a shard that dies fails the check though the process lives on', async () => {
  const broker = await startBrokerOf('shoal', { shards: 2, testHooks: true, extraArgs: ['--log-level', 'warn'] });
  const checker = new Checker(broker, { probeDeadlineMs: 2000, rssLimitBytes: 2 ** 40, allowErrorLogs: true });
  try {
    await checker.start([4, 5]);
    assert.equal(await checker.check(), null);
    const victim = await connect(broker.url, { version: 4 });
    victim.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 });
    let reason: string | null = null;
    for (let i = 0; i < 50 && reason === null; i++) {
      await sleep(100);
      reason = await checker.check();
    }
    assert.ok(broker.alive(), 'main should have survived the shard');
    assert.match(reason ?? '', /a shard died|probe client .* disconnected/);
    victim.end(true);
  } finally {
    await checker.stop();
    await broker.kill();
  }
});

test('fuzz checker: which broker log lines count as errors', () => {
  assert.equal(isErrorLine('{"level":50,"msg":"handler failed"}'), true);
  assert.equal(isErrorLine('{"level":60,"msg":"fatal"}'), true);
  assert.equal(isErrorLine('{"level":40,"msg":"shard exited; restarting it"}'), true);
  assert.equal(isErrorLine('{"level":40,"msg":"store migrated"}'), false);
  assert.equal(isErrorLine('shoal 0.1.0 listening on mqtt://127.0.0.1:1883'), false);
  assert.equal(isErrorLine('{not json'), false);
});

// Loss, refusal and usage errors: reported and turned into exit codes, never a hang.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeBroker, type FakeBroker } from '../../bench/lib/fake-broker.ts';
import { closedPort, parseReport, runTool } from './run-tool.ts';

let lossy: FakeBroker;

before(async () => {
  lossy = await startFakeBroker({ forwardEvery: 2 });
});

after(async () => {
  await lossy.close();
});

const at = (): string[] => ['--host', '127.0.0.1', '--port', String(lossy.port), '--json', '--threads', '1', '--timeout', '0.5'];

test('a broker that forwards every other publish: loadtest reports the loss and exits 1', async () => {
  const run = await runTool('loadtest', [...at(), '--conns', '2', '--messages', '100']);
  assert.equal(run.code, 1);
  const r = parseReport(run.stdout);
  assert.equal(r.figures.sent, 100);
  assert.equal(r.figures.received, 50);
  assert.equal(r.figures.lost, 50);
  assert.equal(r.pass, false);
});

test('--allow-qos0-loss reports the same loss but passes', async () => {
  const run = await runTool('loadtest', [...at(), '--conns', '2', '--messages', '100', '--allow-qos0-loss']);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  assert.equal(r.figures.lost, 50);
  assert.equal(r.pass, true);
});

test('pingtest gives up on a pair after --timeout instead of hanging', async () => {
  const started = Date.now();
  const run = await runTool('pingtest', [...at(), '--pairs', '2', '--wsubs', '0', '--messages', '20']);
  assert.equal(run.code, 1);
  const r = parseReport(run.stdout);
  assert.ok(r.figures.lost > 0);
  assert.ok(Date.now() - started < 15_000);
});

test('nothing listening: exit 2 with the cause in the report', async () => {
  const port = await closedPort();
  const run = await runTool('loadtest', ['--host', '127.0.0.1', '--port', String(port), '--json', '--threads', '1', '--conns', '2']);
  assert.equal(run.code, 2);
  const r = parseReport(run.stdout);
  assert.equal(r.error?.code, 'ECONNREFUSED');
  assert.equal(r.figures.connectFailures.ECONNREFUSED > 0, true);
  assert.match(run.stderr, /connection refused/);
});

test('usage errors exit 2 and print nothing on stdout', async () => {
  for (const args of [['--conns', '3'], ['--gate', 'p99<<1'], ['--qos', '5'], ['--bogus']]) {
    const run = await runTool('loadtest', ['--json', ...args]);
    assert.equal(run.code, 2, args.join(' '));
    assert.equal(run.stdout, '');
    assert.notEqual(run.stderr, '');
  }
});

test('--help states the ceiling', async () => {
  for (const tool of ['loadtest', 'pingtest', 'many'] as const) {
    const run = await runTool(tool, ['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Ceiling \(the tool.s own limit, measured\):\n\S/);
    assert.match(run.stdout, /--json/);
  }
});

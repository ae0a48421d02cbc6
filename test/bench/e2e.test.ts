// The tools end to end against a real broker (Aedes, in this process on port 0).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Aedes } from 'aedes';
import { parseReport, runTool } from './run-tool.ts';

let server: net.Server;
let broker: Aedes;
let port = 0;

before(async () => {
  broker = await Aedes.createBroker();
  server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  port = typeof addr === 'object' && addr !== null ? addr.port : 0;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => broker.close(() => r()));
});

const at = (): string[] => ['--host', '127.0.0.1', '--port', String(port), '--json'];

test('loadtest: every message arrives once, in order, timed', async () => {
  const run = await runTool('loadtest', [...at(), '--conns', '10', '--messages', '200', '--threads', '1']);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  assert.equal(r.tool, 'loadtest');
  assert.equal(r.version, 1);
  assert.equal(r.params.conns, 10);
  assert.equal(r.params.messages, 200);
  assert.equal(r.env.broker, `127.0.0.1:${port}`);
  assert.match(r.env.node, /^v26\./);
  const f = r.figures;
  assert.equal(f.expected, 1000);
  assert.equal(f.sent, 1000);
  assert.equal(f.received, 1000);
  assert.equal(f.lost, 0);
  assert.equal(f.duplicated, 0);
  assert.equal(f.outOfOrder, 0);
  assert.equal(f.connections, 10);
  assert.deepEqual(f.connectFailures, {});
  assert.equal(f.latency.count, 1000);
  assert.equal(f.latency.unit, 'ms');
  assert.ok(f.latency.p50 > 0 && f.latency.p50 <= f.latency.p99 && f.latency.p99 <= f.latency.max);
  assert.ok(f.rate > 0 && f.elapsedMs > 0 && f.connectMs > 0);
  assert.equal(f.brokerRssPerConnBytes, null);
  assert.equal(r.gate, null);
  assert.equal(r.pass, true);
});

test('loadtest over two threads at QoS 1, MQTT 3.1.1, with a passing gate', async () => {
  const run = await runTool('loadtest', [...at(), '--conns', '8', '--messages', '300', '--threads', '2', '--qos', '1', '--protocol', '3.1.1', '--gate', 'lost=0,received>=1200,p99<10s']);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  assert.equal(r.figures.received, 1200);
  assert.equal(r.figures.latency.count, 1200);
  assert.equal(r.gate?.pass, true);
  assert.deepEqual(r.gate?.results.map((x) => x.term), ['lost=0', 'received>=1200', 'p99<10s']);
});

test('pingtest: round trips timed, wildcard subscribers see 2 × messages', async () => {
  const run = await runTool('pingtest', [...at(), '--pairs', '4', '--wsubs', '2', '--messages', '50', '--threads', '2']);
  assert.equal(run.code, 0, run.stderr);
  const f = parseReport(run.stdout).figures;
  assert.equal(f.sent, 2 * 50 * 4);
  assert.equal(f.expected, 2 * 50 * 4 + 2 * 50 * 2);
  assert.equal(f.received, f.expected);
  assert.equal(f.lost, 0);
  assert.equal(f.latency.count, 200);
  assert.equal(f.connections, 10);
});

test('a failed gate exits 1 and says which term failed', async () => {
  const run = await runTool('loadtest', [...at(), '--conns', '2', '--messages', '50', '--threads', '1', '--gate', 'rate>1e12,lost=0']);
  assert.equal(run.code, 1);
  const r = parseReport(run.stdout);
  assert.equal(r.pass, false);
  assert.equal(r.figures.lost, 0);
  assert.deepEqual(r.gate?.results.map((x) => x.pass), [false, true]);
});

test('many: holds clients, publishes, observers see every publish', async () => {
  const run = await runTool('many', [...at(), '--clients', '6', '--wait', '1', '--pace', '0.2', '--duration', '1', '--threads', '2', 'many/test', 'hi']);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  const f = r.figures;
  assert.equal(f.connections, 6);
  assert.ok(f.sent >= 6, `sent ${f.sent}`);
  assert.equal(f.received, f.sent);
  assert.equal(f.lost, 0);
  assert.equal(r.params.topic, 'many/test');
});

test('human output keeps the seed\'s lines', async () => {
  const run = await runTool('loadtest', ['--host', `127.0.0.1:${port}`, '-conns', '2', '-messages', '10', '--threads', '1']);
  assert.equal(run.code, 0, run.stderr);
  for (const line of ['time to establish connections:', 'elapsed time:', 'messages:', 'messages/sec:', 'result: PASS']) {
    assert.ok(run.stdout.includes(line), `missing "${line}" in\n${run.stdout}`);
  }
});

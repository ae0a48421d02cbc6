import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseGateConfig, type GateSpec } from '../../bench/gate/config.ts';
import { evaluateGate } from '../../bench/gate/evaluate.ts';
import { ratioRows, summarize } from '../../bench/compare/summarize.ts';
import { figures, knownComparison, run } from './fixtures/comparison.ts';

const spec = (require: GateSpec['require']): GateSpec => ({ name: 'lt', workload: 'loadtest', args: [], rounds: 3, require, tool: null, shards: null });

test('a gate passes when every required ratio is met', () => {
  const checks = evaluateGate(spec({ aedes: { rate: 2.5, p99: 4 }, mosquitto: { rate: 1.5, p99: 0.5 } }), knownComparison());
  assert.deepEqual(checks.map((c) => [c.broker, c.metric, c.pass]), [
    ['shoal', 'clean runs', true], ['aedes', 'rate', true], ['aedes', 'p99', true], ['mosquitto', 'rate', true], ['mosquitto', 'p99', true],
  ]);
  assert.equal(checks.find((c) => c.metric === 'rate' && c.broker === 'aedes')!.detail, 'shoal/aedes rate 3.00× ≥ required 2.50×');
});

test('a gate fails and says which ratio when one is not met', () => {
  const checks = evaluateGate(spec({ aedes: { rate: 3.5 }, mosquitto: { p99: 1 } }), knownComparison());
  const failed = checks.filter((c) => !c.pass);
  assert.deepEqual(failed.map((c) => c.detail), ['shoal/aedes rate 3.00× < required 3.50×', 'shoal/mosquitto p99 0.50× < required 1.00×']);
});

test('a failed baseline run fails the gate however fast the other runs were', () => {
  const c = knownComparison();
  c.runs[0] = run(1, 1, 'shoal', figures(900_000, 1, 2, 3), 'exit 1, lost 3');
  c.summary = summarize(c.brokers, c.runs);
  c.ratios = ratioRows('shoal', c.summary);
  const checks = evaluateGate(spec({ aedes: { rate: 1 } }), c);
  assert.equal(checks[0]!.pass, false);
  assert.equal(checks[0]!.detail, 'shoal: exit 1, lost 3 in round 1');
  assert.equal(checks[1]!.pass, true);
});

test('a skipped broker passes with a note; one with no clean run fails', () => {
  const c = knownComparison();
  c.skipped.push({ broker: 'mosquitto', reason: 'mosquitto not installed' });
  c.runs = c.runs.map((r) => (r.broker === 'aedes' ? { ...r, ok: false, failure: 'exit 1, no JSON' } : r)).filter((r) => r.broker !== 'mosquitto');
  c.brokers = ['shoal', 'aedes'];
  c.summary = summarize(c.brokers, c.runs);
  c.ratios = ratioRows('shoal', c.summary);
  const checks = evaluateGate(spec({ aedes: { rate: 1 }, mosquitto: { rate: 0.3 } }), c);
  const mosq = checks.find((x) => x.broker === 'mosquitto')!;
  assert.equal(mosq.pass, true);
  assert.match(mosq.detail, /skipped \(mosquitto not installed\)/);
  const aedes = checks.find((x) => x.broker === 'aedes')!;
  assert.equal(aedes.pass, false);
  assert.match(aedes.detail, /no run of aedes counted: exit 1, no JSON in rounds 1, 2, 3/);
});

test('the config parser rejects unknown brokers, metrics and bad ratios, and fills defaults', () => {
  const ok = parseGateConfig({ gates: [{ workload: 'loadtest', args: ['--conns', '20'], require: { aedes: { rate: 1 } } }] });
  assert.deepEqual(ok, {
    shards: null, timeoutSeconds: 120, warmup: false,
    gates: [{ name: 'loadtest --conns 20', workload: 'loadtest', args: ['--conns', '20'], rounds: 3, require: { aedes: { rate: 1 } }, tool: null, shards: null }],
  });
  // A gate's own shards (a pingtest on one shard: the path without a hop).
  assert.equal(parseGateConfig({ gates: [{ workload: 'pingtest', shards: 1, require: { aedes: { rate: 1 } } }] }).gates[0]!.shards, 1);
  const bad = (x: unknown, re: RegExp) => assert.throws(() => parseGateConfig(x), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  bad({ gates: [] }, /non-empty "gates"/);
  bad({ gates: [{ workload: 'loadtest', require: { hivemq: { rate: 1 } } }] }, /unknown broker "hivemq"/);
  bad({ gates: [{ workload: 'loadtest', require: { aedes: { speed: 1 } } }] }, /unknown metric "speed"/);
  bad({ gates: [{ workload: 'loadtest', require: { aedes: { rate: 0 } } }] }, /must be a ratio > 0/);
  bad({ gates: [{ workload: 'loadtest', rounds: 0, require: {} }] }, /rounds must be a positive integer/);
  bad({ gates: [{ workload: 'pingtest', shards: 0, require: {} }] }, /gates\[0\]\.shards must be a positive integer/);
});

test('bench/gates.json itself parses', async () => {
  const { loadGateConfig } = await import('../../bench/gate/config.ts');
  const { fromRoot } = await import('../../bench/brokers/repo-root.ts');
  const config = loadGateConfig(fromRoot('bench', 'gates.json'));
  assert.ok(config.gates.length > 0);
  // Aedes is always installed, so CI without Mosquitto still compares something; a gate that
  // names only Mosquitto is skipped with a line where it is absent.
  assert.ok(config.gates.some((g) => 'aedes' in g.require), 'no gate compares with aedes');
  for (const g of config.gates) assert.ok(Object.keys(g.require).length > 0, `${g.name} compares with nothing`);
});

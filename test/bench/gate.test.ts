import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateGate, parseGate, GateError, type GateFigures } from '../../bench/lib/gate.ts';

const figures: GateFigures = {
  rate: 150000, lost: 0, duplicated: 2, outOfOrder: 0, received: 1000, connections: 100,
  connectRate: 5000, connectMs: 20, elapsedMs: 1500,
  latency: { count: 1000, p50: 0.5, p90: 1.1, p99: 4.2, p999: 9, max: 12, mean: 0.7 },
};

test('parses terms, operators and latency units into milliseconds', () => {
  assert.deepEqual(parseGate('p99<5ms, rate>100000,lost=0'), [
    { term: 'p99<5ms', name: 'p99', op: '<', value: 5 },
    { term: 'rate>100000', name: 'rate', op: '>', value: 100000 },
    { term: 'lost=0', name: 'lost', op: '=', value: 0 },
  ]);
  assert.equal(parseGate('p50<=500us')[0].value, 0.5);
  assert.equal(parseGate('max<2s')[0].value, 2000);
  assert.equal(parseGate('mean >= 1.5')[0].value, 1.5);
  assert.equal(parseGate('p999<1e1ms')[0].value, 10);
  assert.equal(parseGate('connectRate>=1000')[0].op, '>=');
});

test('rejects malformed expressions', () => {
  for (const bad of ['', ' ', 'p99', 'p99<', 'p99<<5', 'p97<5ms', 'rate>10ms', 'p99<5h', 'lost=0,', ',lost=0', 'lost==0', 'lost!=0', 'p99<abc']) {
    assert.throws(() => parseGate(bad), GateError, `should reject "${bad}"`);
  }
});

test('evaluates each term against the figures', () => {
  const out = evaluateGate(parseGate('p99<5ms,rate>100000,lost=0'), figures);
  assert.equal(out.pass, true);
  assert.deepEqual(out.results, [
    { term: 'p99<5ms', actual: 4.2, pass: true },
    { term: 'rate>100000', actual: 150000, pass: true },
    { term: 'lost=0', actual: 0, pass: true },
  ]);
  const failed = evaluateGate(parseGate('p99<4ms,duplicated=0,p50<=500us,max<=12'), figures);
  assert.equal(failed.pass, false);
  assert.deepEqual(failed.results.map((r) => r.pass), [false, false, true, true]);
});

test('a latency term fails when there are no samples', () => {
  const none = { ...figures, latency: { ...figures.latency, count: 0 } };
  assert.deepEqual(evaluateGate(parseGate('p99<5ms'), none).results, [{ term: 'p99<5ms', actual: null, pass: false }]);
});

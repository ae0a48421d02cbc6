import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompareArgs, UsageError } from '../../bench/compare/args.ts';
import { fromRoot } from '../../bench/brokers/repo-root.ts';

test('defaults: all brokers, 3 rounds, shoal as baseline, the workload tool', () => {
  const cli = parseCompareArgs(['--workload', 'pingtest']);
  assert.deepEqual(cli.brokers, ['shoal', 'mosquitto', 'aedes']);
  assert.equal(cli.rounds, 3);
  assert.equal(cli.baseline, 'shoal');
  assert.equal(cli.toolPath, fromRoot('bench', 'pingtest', 'index.ts'));
  assert.deepEqual(cli.toolArgs, []);
  assert.equal(cli.timeoutMs, 300_000);
});

test('everything after -- goes to the tool untouched', () => {
  const cli = parseCompareArgs(['--workload', 'loadtest', '--rounds', '5', '--', '--conns', '100', '--', '--json']);
  assert.equal(cli.rounds, 5);
  assert.deepEqual(cli.toolArgs, ['--conns', '100', '--', '--json']);
});

test('without shoal the first broker is the baseline', () => {
  assert.equal(parseCompareArgs(['--workload', 'loadtest', '--brokers', 'mosquitto,aedes']).baseline, 'mosquitto');
  assert.throws(() => parseCompareArgs(['--workload', 'loadtest', '--brokers', 'aedes', '--baseline', 'shoal']), UsageError);
  assert.throws(() => parseCompareArgs(['--workload', 'loadtest', '--brokers', 'aedes,aedes']), UsageError);
  assert.throws(() => parseCompareArgs(['--workload', 'loadtest', '--rounds', '0']), UsageError);
  assert.throws(() => parseCompareArgs(['--workload', 'loadtest', '--conns', '10']), UsageError);
});

test('many must be bounded by --duration', () => {
  assert.throws(() => parseCompareArgs(['--workload', 'many', '--', '--conns', '100']), /needs a bound/);
  assert.deepEqual(parseCompareArgs(['--workload', 'many', '--', '--duration', '5']).toolArgs, ['--duration', '5']);
});

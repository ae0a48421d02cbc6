// Failed-login delays per client address are kept across shards (regression: they were per
// shard, so with connections spread over two shards the third failure in a row came at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsBlock } from '../../src/shared/stats.ts';
import { FailedLogins } from '../../src/worker/auth/failed-logins.ts';

/** Two shards' views of one stats block, as the shards see it (one SharedArrayBuffer). */
function twoShards(): [FailedLogins, FailedLogins] {
  const a = new StatsBlock(2);
  const b = new StatsBlock(2, a.sab);
  return [new FailedLogins(a.addresses), new FailedLogins(b.addresses)];
}

test('failed-login delays across shards: failures in a row from one address double wherever they land', () => {
  const [s0, s1] = twoShards();
  const t = 1_800_000_000_000;
  assert.deepEqual([s0.failed('10.0.0.1', t), s1.failed('10.0.0.1', t), s0.failed('10.0.0.1', t), s1.failed('10.0.0.1', t)], [0, 100, 200, 400]);
  assert.equal(s0.failed('10.0.0.2', t), 0, 'another address has its own run');
  assert.equal(s1.size, 2, 'both addresses on record, seen from either shard');
  s1.succeeded('10.0.0.1');
  assert.equal(s0.size, 1);
  assert.equal(s0.failed('10.0.0.1', t), 0, 'a success starts the address from zero on every shard');
});

test('failed-login delays: capped at 10 s, and forgotten after a minute without failures', () => {
  const [s0, s1] = twoShards();
  const t = 1_800_000_000_000;
  let last = 0;
  for (let i = 0; i < 20; i++) last = (i % 2 ? s1 : s0).failed('10.0.0.3', t);
  assert.equal(last, 10_000);
  assert.equal(s1.failed('10.0.0.3', t + 61_000), 0, 'a run older than a minute starts again');
  assert.equal(s0.failed('10.0.0.3', t + 62_000), 100);
  assert.equal(s0.size, 1, 'the restarted run is still one address on record');
});

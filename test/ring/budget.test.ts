// Ring capacity from a per-shard budget: the memory of all shard-pair rings grows linearly with
// the shard count, and every capacity is one a ring accepts.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SpscRing, pairRingCapacity, ringBytesTotal, MIN_PAIR_RING, HEADER_BYTES } from '../../src/shared/ring/index.ts';

const MiB = 1024 * 1024;

test('ring budget: two shards keep one ring of the whole budget each way (the default before the budget)', () => {
  assert.equal(pairRingCapacity(4 * MiB, 2), 4 * MiB);
});

test('ring budget: a shard\'s inbound rings together stay within the budget', () => {
  for (let n = 2; n <= 64; n++) {
    const cap = pairRingCapacity(4 * MiB, n);
    assert.ok((n - 1) * cap <= 4 * MiB, `${n} shards: ${n - 1} rings of ${cap} B exceed 4 MiB`);
    assert.ok(2 * (n - 1) * cap > 4 * MiB, `${n} shards: ${cap} B is not the largest power of two that fits`);
  }
});

test('ring budget: all rings of 16 shards take 60 MiB at the default, not 960', () => {
  assert.equal(pairRingCapacity(4 * MiB, 16), 256 * 1024);
  assert.equal(ringBytesTotal(4 * MiB, 16), 240 * (256 * 1024 + HEADER_BYTES));
});

test('ring budget: total ring memory is linear in shards up to the floor', () => {
  for (let n = 2; n <= 65; n++) assert.ok(ringBytesTotal(4 * MiB, n) <= n * (4 * MiB + (n - 1) * HEADER_BYTES), `${n} shards`);
});

test('ring budget: the floor holds past budget / floor + 1 shards, and every capacity makes a ring', () => {
  assert.equal(pairRingCapacity(4 * MiB, 200), MIN_PAIR_RING);
  assert.equal(pairRingCapacity(MIN_PAIR_RING, 3), MIN_PAIR_RING);
  for (const budget of [MIN_PAIR_RING, 1 * MiB, 4 * MiB, 64 * MiB]) {
    for (const n of [1, 2, 3, 5, 16, 100]) {
      const cap = pairRingCapacity(budget, n);
      assert.doesNotThrow(() => new SpscRing(new SharedArrayBuffer(SpscRing.byteLength(cap)), 0, cap), `budget ${budget}, ${n} shards`);
    }
  }
});

// Ring capacity from a per-shard budget: the memory of all shard-pair rings grows linearly with
// the shard count, and every capacity is one a ring accepts.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SpscRing, pairRingCapacity, pairRingBytes, controlRingCapacity, controlRingOffset, ringBytesTotal, MIN_PAIR_RING, CONTROL_RING_MIN, HEADER_BYTES } from '../../src/shared/ring/index.ts';

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

// Each pair's buffer holds a control ring beside its data ring (issue #12: 1/16 of the data
// ring, at least 16 KiB), so the totals grew by that: 60 MiB of data rings at 16 shards, plus
// 240 control rings of 16 KiB (256 KiB / 16) = 3.75 MiB, plus a second header per pair.
test('ring budget: all rings of 16 shards take 64 MiB at the default (60 data, 3.75 control), not 960', () => {
  assert.equal(pairRingCapacity(4 * MiB, 16), 256 * 1024);
  assert.equal(controlRingCapacity(256 * 1024), 16 * 1024);
  assert.equal(ringBytesTotal(4 * MiB, 16), 240 * (256 * 1024 + HEADER_BYTES + 16 * 1024 + HEADER_BYTES));
  assert.equal(ringBytesTotal(4 * MiB, 16), 66_938_880);
});

// A control ring is at most a quarter of its data ring (16 KiB beside the 64 KiB floor), so the
// bound is the budget plus a quarter, still linear.
test('ring budget: total ring memory is linear in shards up to the floor', () => {
  for (let n = 2; n <= 65; n++) assert.ok(ringBytesTotal(4 * MiB, n) <= n * (5 * MiB + (n - 1) * 2 * HEADER_BYTES), `${n} shards`);
});

test('ring budget: a control ring is 1/16 of its data ring, at least 16 KiB, right after it in the pair\'s buffer', () => {
  assert.equal(controlRingCapacity(4 * MiB), 256 * 1024);
  assert.equal(controlRingCapacity(MIN_PAIR_RING), CONTROL_RING_MIN);
  for (const cap of [MIN_PAIR_RING, 256 * 1024, 4 * MiB]) {
    assert.ok(controlRingCapacity(cap) <= cap / 4);
    const sab = new SharedArrayBuffer(pairRingBytes(cap));
    assert.equal(controlRingOffset(cap), SpscRing.byteLength(cap));
    const data = new SpscRing(sab, 0, cap);
    const control = new SpscRing(sab, controlRingOffset(cap), controlRingCapacity(cap));
    assert.equal(controlRingOffset(cap) + SpscRing.byteLength(controlRingCapacity(cap)), sab.byteLength, 'the control ring ends the buffer');
    assert.ok(data.write(Buffer.alloc(8, 1), 0, 8));
    assert.ok(control.isEmpty(), 'the two rings do not overlap');
  }
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

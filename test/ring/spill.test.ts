import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpillQueue } from '../../src/shared/ring/spill.ts';
import { prng } from './stress-frames.ts';

function headCopy(q: SpillQueue): Uint8Array {
  return Uint8Array.from(q.headBuffer.subarray(q.headOffset, q.headOffset + q.headLength));
}

test('spill queue: FIFO with counts, empty access throws', () => {
  const q = new SpillQueue();
  assert.equal(q.count, 0);
  assert.throws(() => q.headLength, /empty/);
  q.push(new Uint8Array([1, 2, 3, 4]), 1, 2);
  q.push(new Uint8Array(0), 0, 0);
  q.push(new Uint8Array(20_000).fill(7), 0, 20_000); // gets a buffer of its own
  q.push(new Uint8Array([9]), 0, 1);
  assert.equal(q.count, 4);
  assert.equal(q.bytes, 20_003);
  assert.deepEqual(headCopy(q), new Uint8Array([2, 3]));
  q.shift();
  assert.equal(q.headLength, 0);
  q.shift();
  assert.equal(q.headLength, 20_000);
  assert.equal(headCopy(q).every((b) => b === 7), true);
  q.shift();
  assert.deepEqual(headCopy(q), new Uint8Array([9]));
  q.shift();
  assert.equal(q.count, 0);
  assert.equal(q.bytes, 0);
});

test('spill queue: a big frame pushed right after the queue ran dry comes out first', () => {
  const q = new SpillQueue();
  q.push(new Uint8Array([1]), 0, 1);
  q.shift(); // empty again, its chunk drained
  q.push(new Uint8Array(40_000).fill(2), 0, 40_000);
  q.push(new Uint8Array([3, 3]), 0, 2);
  assert.equal(q.headLength, 40_000);
  assert.equal(q.headBuffer[q.headOffset], 2);
  q.shift();
  assert.deepEqual(headCopy(q), new Uint8Array([3, 3]));
});

test('spill queue: random pushes and shifts match a plain array model', () => {
  const q = new SpillQueue();
  const rand = prng(77);
  const model: Uint8Array[] = [];
  for (let i = 0; i < 50_000; i++) {
    // Bias towards pushing in bursts and draining in bursts, with big frames mixed in, so
    // chunks fill, empty, get recycled and the queue runs dry many times.
    const phase = (i >> 7) & 1;
    if (model.length === 0 || (phase === 0 ? rand() % 3 !== 0 : rand() % 3 === 0)) {
      const length = rand() % 25 === 0 ? 16_000 + (rand() % 50_000) : rand() % 3000;
      const f = new Uint8Array(length);
      for (let k = 0; k < length; k++) f[k] = (i + k * 3) & 0xff;
      q.push(f, 0, length);
      model.push(f);
    } else {
      const f = model.shift()!;
      assert.equal(q.headLength, f.length, `step ${i}`);
      assert.equal(Buffer.compare(q.headBuffer.subarray(q.headOffset, q.headOffset + f.length), f), 0, `step ${i}`);
      q.shift();
    }
    assert.equal(q.count, model.length);
  }
});

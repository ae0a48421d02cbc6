import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';

const workerUrl = new URL('./doorbell-worker.ts', import.meta.url);

function makeBell(): Doorbell {
  return new Doorbell(new SharedArrayBuffer(Doorbell.byteLength), 0);
}

test('doorbell is padded to a cache line and validates its offset', () => {
  assert.equal(Doorbell.byteLength, 64);
  assert.throws(() => new Doorbell(new SharedArrayBuffer(64), 2), RangeError);
  assert.throws(() => new Doorbell(new SharedArrayBuffer(64), 64), RangeError);
});

test('initial wake, then one wake per ring', async () => {
  const bell = makeBell();
  const seen: number[] = [];
  await new Promise<void>((resolve, reject) => {
    // A lost wake-up shows as a hang; turn it into a failure (and release the keep-alive).
    const timer = setTimeout(() => {
      bell.stop();
      reject(new Error(`no wake after sequence ${bell.sequence()}; saw ${seen.join(',')}`));
    }, 5000);
    bell.listen(() => {
      seen.push(bell.sequence());
      if (seen.length === 1) bell.ring();
      else if (seen.length === 2) bell.ring();
      else {
        clearTimeout(timer);
        bell.stop();
        resolve();
      }
    });
  });
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(bell.isListening, false);
});

test('rings during a busy onWake coalesce into one wake and send no notify; one after parking sends one', async () => {
  const bell = makeBell();
  const seen: number[] = [];
  bell.listen(() => {
    seen.push(bell.sequence());
    if (seen.length === 1) for (let i = 0; i < 5; i++) bell.ring();
  });
  await sleep(60);
  assert.deepEqual(seen, [0, 5]);
  // The consumer was awake for all five: a notify would have told it nothing.
  assert.equal(bell.notifies, 0);
  bell.ring();
  await sleep(30);
  bell.stop();
  assert.deepEqual(seen, [0, 5, 6]);
  assert.equal(bell.notifies, 1);
});

test('onWake returning true is called again without a ring', async () => {
  const bell = makeBell();
  let calls = 0;
  bell.listen(() => ++calls < 4);
  await sleep(60);
  bell.stop();
  assert.equal(calls, 4);
  assert.equal(bell.sequence(), 0);
});

test('stop() ends the loop, also from inside onWake; listen twice is an error', async () => {
  const bell = makeBell();
  let calls = 0;
  bell.listen(() => {
    calls++;
  });
  assert.throws(() => bell.listen(() => {}), /already has a listener/);
  await sleep(20);
  bell.stop();
  bell.ring();
  await sleep(40);
  assert.equal(calls, 1);

  let inner = 0;
  bell.listen(() => {
    inner++;
    bell.stop();
    bell.ring();
  });
  await sleep(40);
  assert.equal(inner, 1);
});

test('no lost wake-up across threads (20k rings with irregular timing)', async () => {
  const count = 20_000;
  const sab = new SharedArrayBuffer(Doorbell.byteLength + 64);
  const bell = new Doorbell(sab, 0);
  const counter = new Int32Array(sab, 64, 1);
  let wakes = 0;
  const finished = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      bell.stop();
      reject(new Error(`stuck at ${Atomics.load(counter, 0)} after ${wakes} wakes`));
    }, 20_000);
    bell.listen(() => {
      wakes++;
      // Irregular consumer work too, so rings land before, during and after the drain.
      for (let s = 0; s < (wakes * 7919) % 2000; s++) Atomics.load(counter, 0);
      if (Atomics.load(counter, 0) === count) {
        clearTimeout(timer);
        bell.stop();
        resolve(wakes);
      }
    });
  });
  const worker = new Worker(workerUrl, { workerData: { mode: 'ringer', sab, bellOffset: 0, counterOffset: 64, count } });
  const [total] = await Promise.all([finished, once(worker, 'exit')]);
  assert.equal(bell.sequence(), count);
  assert.ok(total >= 2 && total <= count + 1, `wakes ${total}`);
  assert.equal(bell.missedWakes, 0, 'every wake-up by a notify, none by the watch');
});

test('a wake-up lost anyway (the sequence moved, nobody notified) is found by the watch within a second', async () => {
  const sab = new SharedArrayBuffer(Doorbell.byteLength);
  const bell = new Doorbell(sab, 0);
  let wakes = 0;
  let missed = 0;
  bell.listen(() => { wakes++; }, () => { missed++; });
  await sleep(30);
  assert.equal(wakes, 1); // the first, at listen
  Atomics.add(new Int32Array(sab, 0, 1), 0, 1); // a producer that bumped and never notified
  const t0 = Date.now();
  while (wakes < 2 && Date.now() - t0 < 3000) await sleep(20);
  bell.stop();
  assert.equal(wakes, 2, 'woken by the watch');
  assert.equal(missed, 1);
  assert.equal(bell.missedWakes, 1);
});

test('no lost wake-up with three producers on one bell (3 × 10k rings)', async () => {
  const count = 10_000;
  const producers = 3;
  const sab = new SharedArrayBuffer(Doorbell.byteLength + 64 * producers);
  const bell = new Doorbell(sab, 0);
  const counters = Array.from({ length: producers }, (_, i) => new Int32Array(sab, 64 * (i + 1), 1));
  const done = (): boolean => counters.every((c) => Atomics.load(c, 0) === count);
  let wakes = 0;
  const finished = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      bell.stop();
      reject(new Error(`stuck at ${counters.map((c) => Atomics.load(c, 0)).join('/')} after ${wakes} wakes`));
    }, 20_000);
    bell.listen(() => {
      wakes++;
      for (let s = 0; s < (wakes * 7919) % 2000; s++) Atomics.load(counters[0]!, 0);
      if (done()) {
        clearTimeout(timer);
        bell.stop();
        resolve(wakes);
      }
    });
  });
  const workers = counters.map((_, i) => new Worker(workerUrl, {
    workerData: { mode: 'ringer', sab, bellOffset: 0, counterOffset: 64 * (i + 1), count },
  }));
  await Promise.all([finished, ...workers.map((w) => once(w, 'exit'))]);
  assert.equal(bell.sequence(), count * producers);
  assert.equal(bell.missedWakes, 0, 'every wake-up by a notify, none by the watch');
});

test('a listening worker stays alive until rung, then exits after stop()', async () => {
  const sab = new SharedArrayBuffer(Doorbell.byteLength);
  const bell = new Doorbell(sab, 0);
  const worker = new Worker(workerUrl, { workerData: { mode: 'listener', sab, bellOffset: 0, counterOffset: 0, count: 0 } });
  const messages: string[] = [];
  worker.on('message', (m: string) => messages.push(m));
  const exited = once(worker, 'exit');
  await once(worker, 'message');
  await sleep(150);
  bell.ring();
  const [code] = (await exited) as [number];
  assert.equal(code, 0);
  assert.deepEqual(messages, ['ready', 'woken']);
});

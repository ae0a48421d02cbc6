// The two rings of a shard pair across two threads (shared/ring/pair.ts): 500,000 frames, a
// quarter of them control frames, interleaved at random, sizes up to several times either ring,
// both rings spilling, the data ring held at random. Every frame must arrive intact, once, and
// in both orders: no control frame before the data sent before it (unless that data was held),
// no data frame before the control frames sent before it. Without the sender's `behind`, rule
// (1) breaks; without the reader's fence, rule (2) does (checked by removing each).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runThread as runThread_ } from './run-thread.ts';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import { pairRingBytes } from '../../src/shared/ring/budget.ts';
import type { ReaderReport, SenderReport, TwoRingsJob } from './two-rings-worker.ts';

const FRAMES = 500_000;
const CAPACITY = 64 * 1024; // the smallest pair ring, 16 KiB control ring
const DEADLINE_MS = 100_000;

const WORKER = new URL('./two-rings-worker.ts', import.meta.url);
const runThread = (job: TwoRingsJob, deadline: Promise<never>): Promise<SenderReport | ReaderReport> => runThread_(WORKER, job, deadline);

test(`two rings across threads: ${FRAMES} frames interleaved over a data and a control ring keep both order rules`, { timeout: 120_000 }, async (t) => {
  const pairBytes = pairRingBytes(CAPACITY);
  const sab = new SharedArrayBuffer(pairBytes + 2 * Doorbell.byteLength);
  const base = { sab, frames: FRAMES, seed: 0x7a1c_2026, capacity: CAPACITY, readerBell: pairBytes, senderBell: pairBytes + Doorbell.byteLength };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  deadline.catch(() => {});
  const started = performance.now();
  let reader: ReaderReport, sender: SenderReport;
  try {
    // The reader stops at its first errors; the sender may then wait for room forever.
    const r = runThread({ ...base, role: 'reader' }, deadline) as Promise<ReaderReport>;
    const s = runThread({ ...base, role: 'sender' }, deadline) as Promise<SenderReport>;
    reader = await r;
    if (reader.errors.length > 0) assert.deepEqual(reader.errors, [], 'order or integrity broken');
    sender = await s;
  } finally {
    clearTimeout(timer);
  }
  t.diagnostic(`${((performance.now() - started) / 1000).toFixed(1)} s: ${sender.data} data and ${sender.control} control frames, ${sender.spilled} spilled; ` +
    `${reader.heldWakes} held wakes, ${reader.passed} control frames passed held data`);
  assert.deepEqual(reader.errors, []);
  assert.equal(reader.data, sender.data);
  assert.equal(reader.control, sender.control);
  assert.equal(sender.data + sender.control, FRAMES);
  assert.ok(sender.spilled > 0, 'the spill path must have been exercised');
  assert.ok(reader.passed > 0, 'control frames must have passed held data');
});

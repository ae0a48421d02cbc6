import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runThread as run } from './run-thread.ts';
import { SpscRing } from '../../src/shared/ring/spsc.ts';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import type { ConsumerReport, ProducerReport, StressJob } from './stress-worker.ts';
import { PROGRESS_SLOTS, Progress } from './stress-frames.ts';
import { Slot } from '../../src/shared/ring/layout.ts';

const FRAMES = 2_000_000;
const CAPACITY = 16 * 1024;
const SEED = 0x5eed_2026;

const DEADLINE_MS = 50_000;
const WORKER = new URL('./stress-worker.ts', import.meta.url);
const runThread = (job: StressJob, deadline: Promise<never>): Promise<ProducerReport | ConsumerReport> => run(WORKER, job, deadline);

test(`stress: ${FRAMES} seeded frames (0 B to 3x capacity) across two threads, no loss/dup/reorder/corruption`, { timeout: 60_000 }, async (t) => {
  const ringBytes = SpscRing.byteLength(CAPACITY);
  const progressOffset = ringBytes + 2 * Doorbell.byteLength;
  const sab = new SharedArrayBuffer(progressOffset + 4 * PROGRESS_SLOTS);
  const base = {
    sab,
    frames: FRAMES,
    seed: SEED,
    capacity: CAPACITY,
    ringOffset: 0,
    dataBellOffset: ringBytes,
    spaceBellOffset: ringBytes + Doorbell.byteLength,
    progressOffset,
  };
  const describe = (): string => {
    const p = new Int32Array(sab, progressOffset, PROGRESS_SLOTS);
    const header = new Int32Array(sab, 0, 64);
    const bells = new Int32Array(sab, ringBytes, (2 * Doorbell.byteLength) / 4);
    return (
      `producer sent ${p[Progress.SENT]} pending ${p[Progress.PENDING]} pumps ${p[Progress.PUMPS]}; ` +
      `consumer received ${p[Progress.RECEIVED]} records ${p[Progress.RECORDS]} wakes ${p[Progress.WAKES]}; ` +
      `ring write ${Atomics.load(header, Slot.WRITE)} read ${Atomics.load(header, Slot.READ)}; ` +
      `data bell ${Atomics.load(bells, 0)} space bell ${Atomics.load(bells, Doorbell.byteLength / 4)}`
    );
  };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stress test still running after ${DEADLINE_MS} ms: ${describe()}`)), DEADLINE_MS);
  });
  deadline.catch(() => {});
  let reports: [ConsumerReport, ProducerReport];
  try {
    reports = (await Promise.all([
      runThread({ ...base, role: 'consumer' }, deadline),
      runThread({ ...base, role: 'producer' }, deadline),
    ])) as [ConsumerReport, ProducerReport];
  } finally {
    clearTimeout(timer);
  }
  const [consumer, producer] = reports;
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(
    `${seconds.toFixed(2)} s, ${(consumer.bytes / 1e6).toFixed(0)} MB, ${consumer.fragmented} fragmented frames, ` +
      `${producer.spilledTotal} spilled (max pending ${producer.maxPending}), ${producer.rings} doorbell rings, ${consumer.wakes} wakes`,
  );
  assert.deepEqual(consumer.errors, []);
  assert.equal(producer.sent, FRAMES);
  assert.equal(consumer.received, FRAMES);
  assert.equal(consumer.bytes, producer.bytes);
  assert.ok(consumer.fragmented > 100, `fragmented frames: ${consumer.fragmented}`);
  assert.ok(producer.spilledTotal > 0, 'the spill path must have been exercised');
  assert.ok(seconds < 60, `took ${seconds} s`);
});

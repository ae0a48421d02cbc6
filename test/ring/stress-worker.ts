// Producer or consumer thread of the ring stress test (not a test file itself).
//
// Producer: RingSender with bounded spill, rings the consumer's doorbell once per batch and
// flushes whenever the consumer rings back. Consumer: RingReceiver drained with a budget on
// each wake, checking every frame against the shared seeded sequence, ringing back when it
// freed space.
import { parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from '../../src/shared/ring/spsc.ts';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import { RingReceiver, RingSender } from '../../src/shared/ring/channel.ts';
import { PROGRESS_SLOTS, Progress, type StressConfig, checkFrame, fillFrame, nextLength, prng } from './stress-frames.ts';

export interface StressJob extends StressConfig {
  role: 'producer' | 'consumer';
  sab: SharedArrayBuffer;
  ringOffset: number;
  /** Rung by the producer, heard by the consumer. */
  dataBellOffset: number;
  /** Rung by the consumer after it freed space, heard by the producer. */
  spaceBellOffset: number;
  /** Progress counters (Int32 x PROGRESS_SLOTS) the parent reads to explain a hang. */
  progressOffset: number;
}


export interface ProducerReport {
  role: 'producer';
  sent: number;
  bytes: number;
  spilledTotal: number;
  maxPending: number;
  rings: number;
}

export interface ConsumerReport {
  role: 'consumer';
  received: number;
  bytes: number;
  fragmented: number;
  wakes: number;
  errors: string[];
}

// Batch sizes, budgets and pauses vary (from their own seeded PRNG) so the run alternates
// between a full ring with a growing spill queue and an idle consumer parked in waitAsync.
const MAX_BATCH = 256;
const MAX_PENDING = 64;
const MAX_BUDGET = 512;
/** One pump in PAUSE_EVERY stops producing for ~1 ms. */
const PAUSE_EVERY = 128;

const job = workerData as StressJob;
const ring = new SpscRing(job.sab, job.ringOffset, job.capacity);
const dataBell = new Doorbell(job.sab, job.dataBellOffset);
const spaceBell = new Doorbell(job.sab, job.spaceBellOffset);
const progress = new Int32Array(job.sab, job.progressOffset, PROGRESS_SLOTS);

if (job.role === 'producer') produce();
else consume();

function produce(): void {
  const sender = new RingSender(ring, { doorbell: dataBell });
  const rand = prng(job.seed);
  const scratch = new Uint8Array(4 * job.capacity);
  const view = new DataView(scratch.buffer);
  let next = 0;
  let bytes = 0;
  let maxPending = 0;
  let rings = 0;
  let immediate = false;
  let paused = false;
  const timing = prng(job.seed ^ 0x7a11);

  const pump = (): void => {
    sender.flush();
    const batch = paused ? 0 : 1 + (timing() % MAX_BATCH);
    for (let n = 0; n < batch && next < job.frames && sender.pending < MAX_PENDING; n++) {
      const length = nextLength(rand, job.capacity);
      fillFrame(scratch, view, next, length);
      sender.send(scratch, 0, length);
      bytes += length;
      next++;
    }
    if (sender.pending > maxPending) maxPending = sender.pending;
    if (sender.commit()) rings++;
    Atomics.store(progress, Progress.SENT, next);
    Atomics.store(progress, Progress.PENDING, sender.pending);
    Atomics.add(progress, Progress.PUMPS, 1);
    if (next === job.frames && sender.pending === 0) {
      spaceBell.stop();
      const report: ProducerReport = { role: 'producer', sent: next, bytes, spilledTotal: sender.spilledTotal, maxPending, rings };
      parentPort!.postMessage(report);
      return;
    }
    if (paused) return; // flushed as an owner must on every wake; the timer resumes us
    if (next < job.frames && timing() % PAUSE_EVERY === 0) {
      paused = true;
      setTimeout(() => {
        paused = false;
        if (spaceBell.isListening) pump();
      }, 1);
      return;
    }
    // Room in the spill budget: keep producing after I/O. Otherwise wait for the consumer.
    if (next < job.frames && sender.pending < MAX_PENDING && !immediate) {
      immediate = true;
      setImmediate(() => {
        immediate = false;
        if (spaceBell.isListening) pump();
      });
    }
  };
  spaceBell.listen(pump);
}

function consume(): void {
  const receiver = new RingReceiver(ring);
  const rand = prng(job.seed);
  const maxFrame = ring.maxFrame;
  const errors: string[] = [];
  let received = 0;
  let bytes = 0;
  let fragmented = 0;
  let wakes = 0;
  const timing = prng(job.seed ^ 0xc025);

  const onFrame = (buf: Uint8Array, offset: number, length: number): void => {
    const expected = received < job.frames ? nextLength(rand, job.capacity) : -1;
    const problem = checkFrame(buf, offset, length, received, expected);
    if (problem !== null && errors.length < 10) errors.push(problem);
    if (length > maxFrame) fragmented++;
    bytes += length;
    received++;
  };

  dataBell.listen(() => {
    wakes++;
    const before = receiver.records;
    const budget = 1 + (timing() % MAX_BUDGET);
    const n = receiver.drain(budget, onFrame);
    if (receiver.records !== before) spaceBell.ring();
    Atomics.store(progress, Progress.RECEIVED, received);
    Atomics.store(progress, Progress.RECORDS, receiver.records);
    Atomics.store(progress, Progress.WAKES, wakes);
    if (received >= job.frames || errors.length > 0) {
      dataBell.stop();
      const report: ConsumerReport = { role: 'consumer', received, bytes, fragmented, wakes, errors };
      parentPort!.postMessage(report);
      return false;
    }
    return n === budget;
  });
}

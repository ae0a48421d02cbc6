// Sender or reader thread of the two-rings stress test (not a test file itself).
//
// Sender: a PairSender interleaving data and control frames at random, sizes from a few bytes to
// several times either ring (fragmented), spilling when a ring is full, flushing whenever the
// reader rings back. Reader: a PairReceiver drained on every wake with a random budget, calling
// the data ring held on one wake in 16 (then released by a 1 ms timer), handling some data
// frames slowly, checking every frame
// against both order rules (two-rings-frames.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import { PairReceiver, PairSender } from '../../src/shared/ring/pair.ts';
import { controlRingCapacity } from '../../src/shared/ring/budget.ts';
import { prng } from './stress-frames.ts';
import { CONTROL, DATA, OrderChecker, OrderedSender } from './two-rings-frames.ts';

export interface TwoRingsJob {
  role: 'sender' | 'reader';
  sab: SharedArrayBuffer;
  frames: number;
  seed: number;
  capacity: number;
  /** Rung by the sender, heard by the reader. */
  readerBell: number;
  /** Rung by the reader after it freed space, heard by the sender. */
  senderBell: number;
}

export interface SenderReport { role: 'sender'; data: number; control: number; spilled: number }
export interface ReaderReport { role: 'reader'; data: number; control: number; passed: number; heldWakes: number; errors: string[] }

const MAX_BATCH = 256;
const MAX_PENDING = 64;
const MAX_BUDGET = 512;

const job = workerData as TwoRingsJob;
const readerBell = new Doorbell(job.sab, job.readerBell);
const senderBell = new Doorbell(job.sab, job.senderBell);

if (job.role === 'sender') send(); else read();

function send(): void {
  const tx = new PairSender(job.sab, job.capacity, readerBell);
  const out = new OrderedSender(tx);
  const rand = prng(job.seed);
  const controlCap = controlRingCapacity(job.capacity);
  let immediate = false;
  const pump = (): void => {
    tx.flush();
    const batch = 1 + (rand() % MAX_BATCH);
    for (let n = 0; n < batch && out.data + out.control < job.frames && tx.pending < MAX_PENDING; n++) {
      const r = rand() % 1000;
      if (r < 250) out.send(CONTROL, 9 + (r === 0 ? rand() % (2 * controlCap) : rand() % 300));
      else out.send(DATA, 9 + (r < 252 ? rand() % (3 * job.capacity) : rand() % 2000));
    }
    tx.commit();
    if (out.data + out.control === job.frames && tx.pending === 0) {
      senderBell.stop();
      const report: SenderReport = { role: 'sender', data: out.data, control: out.control, spilled: tx.spilledTotal };
      parentPort!.postMessage(report);
      return;
    }
    if (out.data + out.control < job.frames && tx.pending < MAX_PENDING && !immediate) {
      immediate = true;
      setImmediate(() => { immediate = false; if (senderBell.isListening) pump(); });
    }
  };
  senderBell.listen(pump);
}

function read(): void {
  const check = new OrderChecker();
  const timing = prng(job.seed ^ 0x2b1);
  // One data frame in 32 takes ~50 µs to handle (a PUBLISH to many subscribers does), and the
  // sender is told of the room freed so far first, so that it writes meanwhile: the window the
  // reader's fence is for (without the ring, the sender mostly waits for the end of a pass).
  const onData = (buf: Uint8Array, off: number, len: number): void => {
    check.onData(buf, off, len);
    if ((timing() & 31) === 0) {
      senderBell.ring();
      const until = performance.now() + 0.05;
      while (performance.now() < until) { /* busy */ }
    }
  };
  const rx = new PairReceiver(job.sab, job.capacity, onData, check.onControl);
  let held = false;
  let heldWakes = 0;
  let done = false;
  const pass = (): boolean => {
    if (done) return false;
    const records = rx.data.records + rx.control.records;
    if (!held && timing() % 16 === 0) {
      held = true;
      heldWakes++;
      setTimeout(() => { held = false; again(); }, 1);
    }
    const budget = 1 + (timing() % MAX_BUDGET);
    const n = check.drain(rx, held, budget);
    if (rx.data.records + rx.control.records !== records) senderBell.ring();
    if (check.data + check.control >= job.frames || check.errors.length > 0) {
      done = true;
      readerBell.stop();
      const report: ReaderReport = { role: 'reader', data: check.data, control: check.control, passed: check.passed, heldWakes, errors: check.errors };
      parentPort!.postMessage(report);
      return false;
    }
    return n === budget;
  };
  // Off the doorbell (the held timer), a pass that used its budget goes on by itself, as
  // Peers.wake does: nobody may ring again.
  const again = (): void => { if (pass()) setImmediate(again); };
  readerBell.listen(pass);
}

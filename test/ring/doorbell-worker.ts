// Worker side of doorbell.test.ts (not a test file itself).
import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';

interface Job {
  mode: 'ringer' | 'listener';
  sab: SharedArrayBuffer;
  bellOffset: number;
  counterOffset: number;
  count: number;
}

const job = workerData as Job;
const bell = new Doorbell(job.sab, job.bellOffset);

if (job.mode === 'ringer') {
  // Publish 1..count, ringing after each; irregular pauses shift the races around.
  const counter = new Int32Array(job.sab, job.counterOffset, 1);
  let x = 12345;
  for (let i = 1; i <= job.count; i++) {
    Atomics.store(counter, 0, i);
    bell.ring();
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    const spin = (x >>> 16) & 0x3ff;
    for (let s = 0; s < spin; s++) Atomics.load(counter, 0);
  }
  parentPort!.postMessage('done');
} else {
  // Only the doorbell keeps this thread alive: it must wait for a ring, then exit by itself.
  bell.listen(() => {
    if (bell.sequence() > 0) {
      parentPort!.postMessage('woken');
      bell.stop();
    }
  });
  parentPort!.postMessage('ready');
}

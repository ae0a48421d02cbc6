// One side of a cross-thread ring test (not a test file): runs the worker, returns its one report.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** Run `url` with `job`; on failure or past the deadline, terminate it so a hang cannot wedge the run. */
export async function runThread<R>(url: URL, job: { role: string }, deadline: Promise<never>): Promise<R> {
  const worker = new Worker(url, { workerData: job });
  // Listen for everything up front: the worker may post and exit within one turn.
  const reported = once(worker, 'message');
  const exited = once(worker, 'exit');
  const failed = once(worker, 'error').then(([err]) => Promise.reject(err as Error));
  try {
    const [report] = (await Promise.race([reported, failed, deadline])) as [R];
    const [code] = (await Promise.race([exited, failed, deadline])) as [number];
    assert.equal(code, 0, `${job.role} exit code`);
    return report;
  } finally {
    await worker.terminate();
  }
}

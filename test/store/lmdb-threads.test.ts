// One environment, several threads: what one shard commits, another shard reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { LmdbStore } from '../../src/shared/store/lmdb-store.ts';
import { tmpDir, removeDir } from './fixtures/tmp.ts';
import { entry, session } from './fixtures/records.ts';

const WORKER = new URL('./fixtures/writer-worker.ts', import.meta.url);

interface Report { sawMainSession: boolean; commits: number }

function runWorker(dir: string, persistence: 'durable' | 'fast', count: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { dir, persistence, count } });
    let report: Report | null = null;
    w.on('message', (m: Report) => (report = m));
    w.on('error', reject);
    w.on('exit', (code) => (report && code === 0 ? resolve(report) : reject(new Error(`worker exited ${code} without a report`))));
  });
}

for (const persistence of ['durable', 'fast'] as const) {
  describe(`LMDB store across threads (${persistence})`, () => {
    it('1,000 concurrent puts in a worker resolve in one commit and are readable in main', async () => {
      const dir = tmpDir(`threads-${persistence}`);
      const main = new LmdbStore({ persistence, dataDir: dir });
      await main.open();
      await main.putSession(session('from-main'));

      const report = await runWorker(dir, persistence, 1000);
      assert.equal(report.sawMainSession, true, 'the worker reads what main committed');
      assert.equal(report.commits, 1, 'one transaction for the whole turn');

      const got = main.loadOutbound('from-worker');
      assert.equal(got.length, 1000);
      got.forEach(([seq, e], i) => {
        assert.equal(seq, i);
        assert.deepEqual(e, entry(i));
      });
      await main.close();
      removeDir(dir);
    });

    it('four shards opening a fresh directory at once all succeed and share one store', async () => {
      const dir = tmpDir(`threads-${persistence}`);
      const reports = await Promise.all([0, 1, 2, 3].map(() => runWorker(dir, persistence, 100)));
      assert.equal(reports.length, 4);
      const s = new LmdbStore({ persistence, dataDir: dir });
      await s.open();
      assert.equal(s.loadOutbound('from-worker').length, 100);
      await s.close();
      removeDir(dir);
    });
  });
}

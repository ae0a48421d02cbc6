// What LMDB mode adds to the contract: data outlives the store object, the process, and a
// SIGKILL right after a write promise resolved; and writes of one turn commit as one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LmdbStore } from '../../src/shared/store/lmdb-store.ts';
import { stopChild } from '../helpers/child-process.ts';
import { tmpDir, removeDir } from './fixtures/tmp.ts';
import { lastTxnId } from './fixtures/lmdb-file.ts';
import { entry, message, session } from './fixtures/records.ts';

const MODES = ['durable', 'fast'] as const;
const KILL_CHILD = new URL('./fixtures/kill-child.ts', import.meta.url).pathname;
const BATCH = 50;

for (const persistence of MODES) {
  describe(`LMDB store (${persistence})`, () => {
    it('keeps everything across close and reopen', async () => {
      const dir = tmpDir(persistence);
      const a = new LmdbStore({ persistence, dataDir: dir });
      await a.open();
      const retained = message({ topic: 'r/1', retain: true });
      await Promise.all([
        a.putRetained('r/1', retained),
        a.putSession(session('c')),
        a.putOutbound('c', 2 ** 40, entry(1, { state: 'sent' })),
        a.putOutbound('c', 7, entry(2)),
        a.putInboundQos2('c', 12),
      ]);
      await a.close();

      const b = new LmdbStore({ persistence, dataDir: dir });
      await b.open();
      assert.deepEqual([...b.loadRetained()], [retained]);
      assert.deepEqual(b.getSession('c'), session('c'));
      assert.deepEqual(b.loadOutbound('c'), [[7, entry(2)], [2 ** 40, entry(1, { state: 'sent' })]]);
      assert.deepEqual(b.loadInboundQos2('c'), [12]);
      await b.close();
      removeDir(dir);
    });

    it('commits the writes of one turn in one transaction', async () => {
      const dir = tmpDir(persistence);
      const s = new LmdbStore({ persistence, dataDir: dir });
      await s.open();
      const before = lastTxnId(dir);
      const puts: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) puts.push(s.putOutbound('c', i, entry(i)));
      await Promise.all(puts);
      assert.equal(lastTxnId(dir) - before, 1);
      await s.close();
      removeDir(dir);
    });

    it('survives SIGKILL right after a put resolved, and never keeps half a batch', async () => {
      const dir = tmpDir(persistence);
      const child = spawn(process.execPath, [KILL_CHILD, dir, persistence, String(BATCH)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      let acked = -1;
      try {
        for await (const line of createInterface({ input: child.stdout })) {
          const m = /^acked (\d+)$/.exec(line);
          assert.ok(m, `unexpected child output ${line}`);
          acked = Number(m[1]);
          // Kill on an ack a few batches in: the child is mid-way through the next batch.
          if (acked >= 5) {
            child.kill('SIGKILL');
            break;
          }
        }
      } finally {
        await stopChild(child, { signal: 'SIGKILL' }); // also when the loop above failed: no child outlives the test
      }
      assert.equal(await exited, 'SIGKILL');
      assert.ok(acked >= 5);

      const s = new LmdbStore({ persistence, dataDir: dir });
      await s.open();
      assert.equal(s.getSession('crash')?.clientId, 'crash');
      const seqs = s.loadOutbound('crash').map(([seq]) => seq);
      const ids = s.loadInboundQos2('crash');
      const batches = ids.length;
      assert.ok(batches >= acked + 1, `acked batches 0..${acked} must all be there, found ${batches}`);
      // Whole batches only: the outbound entries are exactly those of the batches found.
      assert.deepEqual(seqs, Array.from({ length: batches * BATCH }, (_, i) => i));
      assert.deepEqual(ids, Array.from({ length: batches }, (_, i) => i + 1));
      await s.close();
      removeDir(dir);
    });
  });
}

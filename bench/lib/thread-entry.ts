// Body of every worker thread: load the tool's shard module and serve phase calls.
import { parentPort, workerData } from 'node:worker_threads';
import { READY, type FromShard, type ShardFactory, type ToShard } from './shards.ts';

interface Data {
  module: string;
  index: number;
  count: number;
  init: unknown;
}

const data = workerData as Data;
const port = parentPort;
if (port === null) throw new Error('thread-entry.ts runs only as a worker thread');
const mod = (await import(data.module)) as { createShard: ShardFactory };
const post = (m: FromShard): void => port.postMessage(m);
const shard = mod.createShard(data.init, {
  index: data.index,
  count: data.count,
  progress: (progress) => post({ kind: 'progress', progress }),
});
port.on('message', (m: ToShard) => {
  if (m.phase === READY) return post({ kind: 'result', id: m.id, ok: true, value: null });
  shard.call(m.phase, m.arg).then(
    (value) => post({ kind: 'result', id: m.id, ok: true, value }),
    (err: unknown) => post({
      kind: 'result', id: m.id, ok: false,
      error: err instanceof Error ? err.message : String(err),
      code: err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : null,
    }),
  );
});

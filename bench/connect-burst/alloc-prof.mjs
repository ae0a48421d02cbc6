// Loaded with --import into the broker's process by index.ts --alloc-profile DIR: in each worker
// thread (the shards, the hash pool), V8's sampling heap profiler counting objects the young and
// old collections freed too, so the profile is what the thread allocated, not what survived.
// Written every 500 ms (the shard is terminated, not exited, at shutdown) as
// DIR/alloc.<pid>.<threadId>.heapprofile; alloc-summary.mjs compares two.
import { isMainThread, threadId } from 'node:worker_threads';
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';

if (!isMainThread && process.env.BENCH_ALLOC_DIR) {
  const dir = process.env.BENCH_ALLOC_DIR;
  const s = new inspector.Session();
  s.connect();
  s.post('HeapProfiler.enable');
  s.post('HeapProfiler.startSampling', { samplingInterval: 2048, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  setInterval(() => {
    // a session of the thread itself answers synchronously
    s.post('HeapProfiler.getSamplingProfile', (err, r) => {
      if (!err) writeFileSync(`${dir}/alloc.${process.pid}.${threadId}.heapprofile`, JSON.stringify(r.profile));
    });
  }, 500).unref();
}

// Memory over many connect / subscribe / close cycles (issue #12, "memory that does not come
// back"): the low points of RSS crept ~2 MiB a cycle over test/regress/memory-that-does-not-come-back's
// 8 cycles. This runs the same cycle N times and prints, per cycle, RSS, anon vs file RSS
// (/proc/PID/smaps_rollup) and each shard's V8 heap in use after its reclaim collection (the
// broker's debug line "clients left: heap collected"), so heap growth (a retention) and RSS
// growth with a flat heap (the allocator) can be told apart.
//   node bench/creep/index.ts [--cycles 30] [--clients 400] [--filters 50] [--shards 2]
// Env is passed through to the broker: e.g. MALLOC_ARENA_MAX=2 for the allocator's side.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startBroker } from '../../test/helpers/broker.ts';
import { connectAll, type ConnectPlan } from '../lib/connector.ts';

const { values } = parseArgs({ options: {
  cycles: { type: 'string', default: '30' }, clients: { type: 'string', default: '400' },
  filters: { type: 'string', default: '50' }, shards: { type: 'string', default: '2' },
  settle: { type: 'string', default: '2500' },
} });
const CYCLES = Number(values.cycles), CLIENTS = Number(values.clients), FILTERS = Number(values.filters);
const SETTLE_MS = Number(values.settle); // the reclaim runs 1 s after the threshold: wait past it

const mib = (kb: number): string => (kb / 1024).toFixed(1);
function smaps(pid: number): { rss: number; anon: number; file: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? NaN);
  return { rss: kb('Rss'), anon: kb('Anonymous'), file: kb('Rss') - kb('Anonymous') };
}

const broker = await startBroker({ shards: Number(values.shards), extraArgs: ['--log-level', 'debug', '--log-format', 'json'] });
let seenUntil = 0;
/**
 * Heap after the reclaim, per shard, from the debug lines logged since the last call (by their
 * time: the captured stderr is capped, so a line count drifts once it is trimmed).
 */
function heapAfter(): Map<string, number> {
  const out = new Map<string, number>();
  let latest = seenUntil;
  for (const line of broker.stderr().split('\n')) {
    if (!line.includes('heap collected')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      const at = Number(o.time);
      if (!(at > seenUntil)) continue;
      latest = Math.max(latest, at);
      out.set(String(o.shard ?? o.shardId ?? o.name ?? '?'), Number(o.heapAfter));
    } catch { /* a line cut by the capture cap */ }
  }
  seenUntil = latest;
  return out;
}

console.log('cycle\trssMiB\tanonMiB\tfileMiB\theapAfterMiB(per shard)');
let uidN = 0;
for (let c = 0; c < CYCLES; c++) {
  const plans: ConnectPlan[] = Array.from({ length: CLIENTS }, (_, i) => ({
    options: { host: '127.0.0.1', port: broker.port, clientId: `creep${process.pid}-${uidN++}`, level: 4, keepalive: 0, timeoutMs: 10_000 },
    topics: Array.from({ length: FILTERS }, (_, k) => `mem/${c}/${i}/${k}/+/#`),
  }));
  const res = await connectAll(plans, { concurrency: 50, subQos: 1, stopOnFailure: true });
  if (res.firstFailure !== null) throw new Error(JSON.stringify(res.firstFailure));
  await Promise.all(res.clients.map((cl) => cl?.disconnect(5000)));
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const s = smaps(broker.pid);
  const h = [...heapAfter()].map(([k, v]) => `${k}:${(v / 2 ** 20).toFixed(2)}`).join(' ');
  console.log(`${c + 1}\t${mib(s.rss)}\t${mib(s.anon)}\t${mib(s.file)}\t${h}`);
}
await broker.stop();

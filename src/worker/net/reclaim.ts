// Memory that comes back when clients go (issue #12, "memory that does not come back").
//
// Connect / subscribe 50 filters / close cycles leave no live objects behind (two heap
// snapshots taken after a full collection, cycles 2 and 8 apart, differ only in compiled code),
// yet RSS grew ~40 MiB a cycle and stayed when the broker went idle: V8 collects an isolate's
// old generation when allocation pushes it to its next limit, and a shard whose clients have
// left allocates nothing, so the garbage they left, and the heap pages holding it, stay until
// traffic comes back (30 s idle: not a byte returned). So once a shard has let go of a lot
// (connections and subscriptions, estimated below) it runs one full collection, a second
// later, which also hands the emptied pages back. A shard whose clients stay never runs one;
// one that sheds clients runs one at most per RECLAIM_MIN released and never more than a
// quarter of its live heap would justify (a collection's pause grows with the live heap).
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

/** What a closed connection leaves to collect (socket, handle, parser state, session): an estimate. */
export const CONNECTION_BYTES = 16 * 1024;
/** What a removed subscription leaves (its object, trie nodes and map entries, route frames): 1.7–3.4 KB measured. */
export const SUBSCRIPTION_BYTES = 2 * 1024;
/** Released bytes (estimated) that make a full collection worth its pause. */
const RECLAIM_MIN = 16 << 20;
/**
 * Within TAIL_MS of a collection, a quarter of that is enough: the rest of a mass disconnect
 * that went on past the collection is collected too, instead of staying until the next one.
 */
const TAIL_MIN = RECLAIM_MIN / 4;
const TAIL_MS = 5000;
/**
 * How long after the threshold is crossed the collection runs: the rest of a mass disconnect
 * is mostly over by then. (Waiting for a quiet second instead was tried: clients that come and
 * go in waves then get their collection at the next wave's peak, when it frees less.)
 */
const RECLAIM_DELAY_MS = 1000;

let releasedBytes = 0;
let timer: NodeJS.Timeout | null = null;
/** Heap in use after the last collection here: the live set a collection has to walk. */
let liveAfterLast = 0;
let lastAt = 0;
let log: Logger | null = null;
let collect: ((options?: object) => void) | null | undefined;

/** Something worth `bytes` (estimated) was let go of on this thread: a connection, a subscription. */
export function released(bytes: number, logger: Logger): void {
  releasedBytes += bytes;
  if (timer !== null || releasedBytes < TAIL_MIN || releasedBytes < liveAfterLast / 4) return;
  if (releasedBytes < RECLAIM_MIN && Date.now() - lastAt > TAIL_MS) return;
  log = logger;
  timer = setTimeout(reclaim, RECLAIM_DELAY_MS);
  timer.unref();
}

function reclaim(): void {
  timer = null;
  const gc = fullCollection();
  if (gc === null) return;
  const before = v8.getHeapStatistics().used_heap_size;
  const t0 = performance.now();
  // V8's last-resort flavour (CollectAllAvailableGarbage, as under memory pressure): a plain
  // full collection empties the heap (13-18 MiB live after 8 cycles) but V8 keeps the emptied
  // pages pooled, so RSS stayed ~45 MiB above one cycle's level on a quiet machine, where no
  // later collection ever came to release them (test/regress/memory-that-does-not-come-back
  // failed so at load 0.3 on main and on the build before it; under load it passed, by luck of
  // V8's own collections). This one also hands the pooled pages back. A V8 that does not know
  // the options runs a plain full collection.
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const ms = performance.now() - t0;
  liveAfterLast = v8.getHeapStatistics().used_heap_size;
  lastAt = Date.now();
  log?.debug({ releasedBytes, heapBefore: before, heapAfter: liveAfterLast, ms: Math.round(ms) }, 'clients left: heap collected');
  releasedBytes = 0;
}

/**
 * V8's full collection. Node offers it only behind --expose-gc, a V8 flag that applies to
 * contexts created while it is set: one context made with it on hands out its `gc`, and the
 * flag goes back off so nothing else sees a `gc` global. Null if this V8 refuses (never run).
 */
function fullCollection(): ((options?: object) => void) | null {
  if (collect !== undefined) return collect;
  collect = null;
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return (collect = own);
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    if (typeof gc === 'function') collect = gc as () => void;
  } catch { /* no collection: memory then comes back with traffic, as before */ } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

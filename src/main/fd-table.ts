// The process's file descriptor table, grown to its working size once at start (Linux).
//
// The kernel keeps a process's descriptors in one table that it doubles when a new descriptor
// does not fit (expand_files). In a process of more than one thread — every Shoal process: main,
// the shards, V8's and libuv's threads — each doubling waits for an RCU grace period
// (expand_fdtable: synchronize_rcu) while it holds the table's resize in progress, and every
// thread that opens, accepts or closes a descriptor meanwhile sleeps until it is done. Measured
// in a burst of 1,000 CONNECTs (bench/connect-burst, a /proc sampler of the broker's threads):
// the shard in accept4 and main in openat both asleep (state D, synchronize_rcu / expand_files,
// no CPU, no run-queue wait) for 10, 10 and 55 ms as the table went from 256 to 2048 entries;
// those stalls were the other clients' worst delays in the burst. A one-threaded broker
// (Mosquitto) never waits for them. The table never shrinks, so growing it here, before the
// listeners are bound, leaves no doubling to a burst until the process holds --fd-reserve
// descriptors. Opening /dev/null until the descriptor numbers reach the size is the only way
// from JavaScript (there is no dup2): one grace period per doubling, here at start.
import { closeSync, openSync, readFileSync } from 'node:fs';

/** Descriptors left free while the table is grown: another thread (libuv's, an embedding program's) may open some meanwhile. */
const LEAVE_FREE = 64;

/** The process's soft limit on open descriptors (/proc/self/limits), or null when unknown or unlimited. */
function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch { return null; }
}

/**
 * Grows this process's descriptor table to hold `size` descriptors; returns the table's size
 * reached as far as this call knows (0: nothing done). Never takes the last LEAVE_FREE
 * descriptors below the process's limit (a table can never outgrow the limit anyway), and stops
 * early, harmlessly, at any error (EMFILE): the table is then as large as it got.
 */
export function reserveFdTable(size: number): number {
  if (process.platform !== 'linux' || size <= 0) return 0;
  const limit = openFilesLimit();
  const target = limit === null ? size : Math.min(size, limit - LEAVE_FREE);
  const fds: number[] = [];
  let top = -1;
  try {
    while (top < target - 1) {
      top = openSync('/dev/null', 'r');
      fds.push(top);
    }
  } catch { /* EMFILE, ENFILE: the limit is lower than the reserve; the table holds what it reached */ }
  for (const fd of fds) closeSync(fd);
  return top + 1;
}

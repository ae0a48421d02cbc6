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
import { closeSync, openSync } from 'node:fs';

/**
 * Grows this process's descriptor table to hold `size` descriptors; returns the table's size
 * reached as far as this call knows (0: nothing done). Stops early, harmlessly, at the process's
 * descriptor limit (EMFILE) or any other error: the table is then as large as it got.
 */
export function reserveFdTable(size: number): number {
  if (process.platform !== 'linux' || size <= 0) return 0;
  const fds: number[] = [];
  let top = -1;
  try {
    while (top < size - 1) {
      top = openSync('/dev/null', 'r');
      fds.push(top);
    }
  } catch { /* EMFILE, ENFILE: the limit is lower than the reserve; the table holds what it reached */ }
  for (const fd of fds) closeSync(fd);
  return top + 1;
}

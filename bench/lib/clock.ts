// One millisecond clock that every worker thread agrees on.
// performance.now() is cheap and allocation-free but each thread may count from its own
// origin; process.hrtime.bigint() is shared (CLOCK_MONOTONIC) but allocates a BigInt per
// call. So anchor performance.now() to hrtime once per thread and use the cheap call after.
const offsetMs = calibrate();

/** hrtime − performance.now(), from the tightest of a few bracketed samples (first calls are slow). */
function calibrate(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const before = performance.now();
    const h = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = h - (before + after) / 2;
    }
  }
  return offset;
}

/** Milliseconds (float64, sub-µs resolution) on a monotonic base shared by all threads. */
export function nowMs(): number {
  return performance.now() + offsetMs;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

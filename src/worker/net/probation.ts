// Probation for a client judged slow again soon after it was waited for again (issue #12).
//
// A reader at about the slow bound flips: judged slow, taken back (its averaged rate or one
// window crossed the bound, or it caught up while its publisher paused), judged slow again two
// windows later, and each return makes its publishers wait for it again. So a slow period of a
// client judged slow again within FORGET_WINDOWS of its last return cannot end by its rate, or
// by catching up, before a probation that doubles with each such judgement, capped
// (backpressure.ts staysSlow). The first judgement has none: a healthy reader misjudged once
// (a busy machine did not schedule it) is waited for again as soon as it reads at speed. Each
// FORGET_WINDOWS it then goes without a judgement takes one doubling off, so one that recovers
// is not penalised for long. The queue guard is not on probation: a QoS 1/2 client near its
// queue bounds that took at the bound since its judgement is waited for again whatever its
// level, before its queue overflows.

/** The probation of the first judgement after a quick return, in --slow-client-ms windows. */
const FIRST_WINDOWS = 2;
/** The longest probation, in windows (6.4 s with the default 100 ms). */
const MAX_WINDOWS = 64;
/** A judgement this long after the last return does not raise the level; each such stretch lowers it by one. */
const FORGET_WINDOWS = 20;
/** Levels past which the probation no longer grows (FIRST_WINDOWS << (MAX_LEVEL - 1) = MAX_WINDOWS). */
const MAX_LEVEL = 1 + Math.log2(MAX_WINDOWS / FIRST_WINDOWS);

/**
 * The level of a slow period that begins at `now` for a client at `level` whose last slow
 * period ended at `returnedAt` (0: this is its first).
 */
export function nextProbationLevel(level: number, returnedAt: number, now: number, slowMs: number): number {
  if (returnedAt === 0) return 0;
  const quiet = Math.floor((now - returnedAt) / (FORGET_WINDOWS * slowMs));
  if (quiet === 0) return Math.min(MAX_LEVEL, level + 1);
  return Math.max(0, level - quiet);
}

/** How long a slow period at `level` lasts at least (ms): 0, then 2, 4, 8, ... up to 64 windows. */
export function probationMs(level: number, slowMs: number): number {
  if (level === 0) return 0;
  return slowMs * Math.min(MAX_WINDOWS, FIRST_WINDOWS << (level - 1));
}

// Regression (issue #12): a slow client taken back by its averaged drain rate in a window in
// which it took nothing. Traced at load 19 (test/regress/stalled-subscribers-hold-everyone-back,
// slow readers at 2,000 msg/s, just under the 2.6 kB/ms bound): a reader that drains in bursts
// keeps its EWMA above the bound through idle windows; two slow windows judged it slow and the
// EWMA took it back in the next one (rate 0-373 B/ms, EWMA 2.9-15 kB/ms), 18 returns and 52
// waits for it in one run. Now the average takes a client back only with a window at the
// bound too. The judgement is driven here window by window with a fake clock, so the test
// does not depend on load; the real-broker figures are in that other test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backpressure } from '../../src/worker/net/backpressure.ts';
import type { Connection } from '../../src/worker/net/connection.ts';

const SLOW_MS = 100;
const HIGH_WATER = 1 << 20;
const BOUND = HIGH_WATER / (SLOW_MS * 4); // bytes per ms: 2,621

/** The fields the judgement reads and writes; behind by its QoS 1 queue, socket not congested. */
function behindClient(): Connection & { taken: number } {
  const c = {
    clientId: 'bursty-near-bound', congested: false, taken: 0,
    behindSince: 0, drainedAtMark: 0, slow: false, slowWindows: 0, drainRate: 0, slowSince: 0, drainedAtSlow: 0,
    waiters: null, lastWaiter: null, slowTimer: null, holds: 0, holdsAfterSlow: 0, slowJudged: 0, probes: 0, returns: 0, holdStart: 0, longestHoldMs: 0,
    session: { queued: 5000, queuedBytes: 5 * HIGH_WATER },
    drained(): number { return this.taken; },
  };
  return c as unknown as Connection & { taken: number };
}

test('slow client taken back idle: the drain average does not take back a slow client in a window in which it took nothing', () => {
  const bp = new Backpressure(SLOW_MS, 8 * HIGH_WATER, HIGH_WATER);
  const sub = behindClient();
  let now = 1_000;
  bp.behind(sub, now);
  const window = (bytesPerMs: number): void => { now += SLOW_MS + 1; sub.taken += Math.round(bytesPerMs * (SLOW_MS + 1)); bp.settle(sub, now); };
  for (let i = 0; i < 5; i++) window(4 * BOUND); // bursts: the average climbs well above the bound
  assert.equal(sub.slow, false);
  window(0);
  window(0); // two slow windows in a row: slow
  assert.equal(sub.slow, true, 'judged slow after two idle windows');
  assert.equal(sub.slowJudged, 1);
  assert.ok(sub.drainRate >= BOUND, `its average (${Math.round(sub.drainRate)} B/ms) is still above the bound: the case`);
  window(0);
  assert.equal(sub.slow, true, `taken back by its average (${Math.round(sub.drainRate)} B/ms) in a window that took nothing`);
  assert.equal(sub.returns, 0);
  window(BOUND * 1.2); // at the bound again, its average too: waited for again, counted once
  assert.equal(sub.slow, false, 'a window at the bound with the average above it takes it back');
  assert.equal(sub.returns, 1);
});

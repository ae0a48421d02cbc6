// Regression (issue #12, "two subscribers that never read hold everyone back"): a small,
// fast version of the bench:isolation scenario on the real broker, with subscribers on `#`
// that subscribe and then never read (QoS 0 and QoS 1), and with ones that read, but slower
// than the publisher writes. The rate share a healthy subscriber keeps moves with machine
// load (14-34% cost alone, 59% beside the suite in a fresh-clone CI run), so it is only
// reported here (`bench:compare --workload isolation` is its measure, side by side with
// Mosquitto). What is checked is what the broker itself says each slow client cost the others
// (its "slow client closed" line, net/backpressure.ts), which load does not move:
// - every stalled or slow subscriber is judged slow;
// - once judged, a stalled one never makes a publisher wait again, and before that only a
//   handful of times (once per source that wrote to it while it was behind);
// - no wait for any of them lasts longer than a few --slow-client-ms windows (the design:
//   ~25 ms for one that stopped reading, two 100 ms windows for a slow one);
// - once judged, a slow one is hardly waited for again (its rate is averaged over windows);
// - the healthy subscriber gets every message, and the probe pair never misses its deadline.
// One shard: every client then shares the publisher's shard, where a congested subscriber
// holds the publisher back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { eventually } from '../helpers/clients.ts';
import { parseReport, runTool } from '../bench/run-tool.ts';

const SLOW_MS = 100;
/** The longest a publisher may wait for one slow or stalled subscriber (with room for a loaded machine's late timers). */
const LONGEST_HOLD_MS = 20 * SLOW_MS;

interface Isolation {
  healthyRate: number;
  costPercent: number | null;
  baseline: { healthyRate: number } | null;
  probe: { sent: number; missedDeadline: number };
  stalled: { count: number };
  slow: { count: number };
}

interface SlowLine { client: string; filters: string[]; slowJudged: number; returns: number; probes: number; holds: number; holdsAfterSlow: number; longestHoldMs: number; slowMs: number }

const h = useBroker({ shards: 1, extraArgs: ['--slow-client-ms', String(SLOW_MS)] });

let warm = false;
let seen = 0;

async function isolation(extra: string[]): Promise<{ iso: Isolation; lost: number; lines: SlowLine[] }> {
  // A cold broker (JIT) would make the baseline look slow and the cost look small.
  if (!warm) {
    const run = await runTool('isolation', ['--host', '127.0.0.1', '--port', String(h.port), '--json', '--messages', '20000', '--stalled', '0'], 60_000);
    assert.equal(run.code, 0, run.stderr);
    warm = true;
  }
  const run = await runTool('isolation', ['--host', '127.0.0.1', '--port', String(h.port), '--json', '--messages', '150000', '--with-baseline', ...extra], 110_000);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  const iso = (r.figures as unknown as { isolation: Isolation }).isolation;
  // The lines of this run's subscribers on `#` (stalled and slow ones), logged as they close.
  const want = iso.stalled.count + iso.slow.count;
  let lines: SlowLine[] = [];
  const read = (): SlowLine[] => h.broker.stderr().split('\n').slice(seen)
    .filter((l) => l.includes('"slow client closed"')).map((l) => JSON.parse(l) as SlowLine).filter((l) => l.filters.includes('#'));
  try {
    await eventually(() => (lines = read()).length >= want, 10_000, `a "slow client closed" line for each of the ${want} subscribers on #`);
  } finally {
    seen = h.broker.stderr().split('\n').length - 1;
  }
  return { iso, lost: r.figures.lost, lines };
}

function describe(iso: Isolation, lines: SlowLine[]): string {
  return `healthy ${Math.round(iso.healthyRate)} msg/s, ${Math.round(iso.baseline!.healthyRate)} without (cost ${iso.costPercent}%, load-dependent, not asserted); ` +
    `probe missed ${iso.probe.missedDeadline} of ${iso.probe.sent}; per subscriber on #: ` +
    lines.map((l) => `judged slow ${l.slowJudged}× (${l.probes} probes, taken back ${l.returns}×), held sources ${l.holds}× (${l.holdsAfterSlow} after), longest ${l.longestHoldMs} ms`).join('; ');
}

test('two subscribers that never read hold everyone back: judged once, never waited for again, no wait longer than a few windows', async (t) => {
  const { iso, lost, lines } = await isolation(['--stalled', '2', '--slow', '0']);
  t.diagnostic(describe(iso, lines));
  assert.equal(lost, 0, 'the healthy subscriber lost messages');
  assert.equal(lines.length, 2);
  for (const l of lines) {
    assert.ok(l.slowJudged >= 1, `${l.client} judged slow`);
    assert.equal(l.holdsAfterSlow, 0, `${l.client}: publishers waited for it after it was judged slow`);
    assert.ok(l.holds <= 4, `${l.client}: publishers waited for it ${l.holds} times`);
    assert.ok(l.longestHoldMs <= LONGEST_HOLD_MS, `${l.client}: a publisher waited ${l.longestHoldMs} ms for it`);
  }
  assert.equal(iso.probe.missedDeadline, 0);
});

test('slow readers on # hold everyone back: judged slow, hardly waited for after, no wait longer than a few windows', async (t) => {
  const { iso, lost, lines } = await isolation(['--stalled', '0', '--slow', '2', '--slow-rate', '2000']);
  t.diagnostic(describe(iso, lines));
  assert.equal(lost, 0, 'the healthy subscriber lost messages');
  assert.equal(lines.length, 2);
  for (const l of lines) {
    assert.ok(l.slowJudged >= 1, `${l.client} judged slow`);
    // One burst from its kernel's buffer used to make it look fast again: 3-24 waits after its
    // first judgement per run (backpressure.ts, EWMA_WEIGHT); 0 in 4 runs since. A QoS 1 one
    // near its queue bounds is waited for once more (a probe, staysSlow); one at 2,000 msg/s,
    // near the bound, can also be taken back once by its average or by catching up. Each such
    // return lets each of its sources (the publisher and the probe pair here) wait about once
    // for it: with 0 probes, 1 return and 3 waits after it, the bound 2 + 3 * probes failed
    // 1 of 5 runs at load 6.4 (the broker unchanged). What would be the old defect is returns:
    // 0-1 beside its probes at load 4-8, 2 with 0 probes once at load 21, 3-18 in runs at load
    // 18-21 that swung between slow and waited for (BENCHMARKS.md, "Slow-client judgement").
    assert.ok(l.probes <= 1, `${l.client}: ${l.probes} probes`);
    assert.ok(l.returns <= 2 + l.probes, `${l.client}: taken back ${l.returns} times after it was judged slow (${l.probes} probes)`);
    assert.ok(l.holdsAfterSlow <= 2 + 3 * l.returns, `${l.client}: publishers waited for it ${l.holdsAfterSlow} times after it was judged slow (taken back ${l.returns} times)`);
    assert.ok(l.longestHoldMs <= LONGEST_HOLD_MS, `${l.client}: a publisher waited ${l.longestHoldMs} ms for it`);
  }
  assert.equal(iso.probe.missedDeadline, 0);
});

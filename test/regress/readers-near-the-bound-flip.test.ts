// Regression (issue #12, "readers near the bound flip"): a client whose reading swings across
// the slow bound was judged slow, waited for again, judged again, once per swing, for as long as
// it stayed: each return made its publishers wait for it again (the "slow readers" subtest of
// stalled-subscribers-hold-everyone-back failed 3-4 of 5 at load 15-22 by that, a reader at
// 2,000 msg/s taken back 9 times in one run at load 12). A slow period of a client judged slow
// again soon after its last return now lasts at least a probation that doubles with each such
// judgement (net/probation.ts), so its returns grow with the log of the time it stays, not
// with the number of its swings. (A QoS 1/2 reader with a queue that averages 1.25x the bound
// or more is exempt, since a healthy subscriber misjudged on a starved machine looks like that;
// the QoS 1 reader of "slow readers" still swings: docs/performance.md, "Known limits".)
//
// The swinging reader here is forced, so that the count does not depend on the machine's load:
// it reads at full speed for 300 ms, then stops for 300 ms (a stopped, congested socket is slow
// after a quarter window; one that then reads at speed is taken back at once), beside a
// publisher that writes as fast as the broker reads, for 8 s. Before: one return per stop
// (14 in 13 stops). With the probation: at most 2 + log2(elapsed / 200 ms + 1) (seen: 4-6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect, buildPublish, frame, mqttString } from '../helpers/raw.ts';
import { eventually, sleep, uid } from '../helpers/clients.ts';
import { rawOpen } from './held-ring-clients.ts';
import { nextProbationLevel, probationMs } from '../../src/worker/net/probation.ts';

const SLOW_MS = 100;
const RUN_MS = 8_000;
const SWING_MS = 300;

const h = useBroker({ shards: 1, extraArgs: ['--slow-client-ms', String(SLOW_MS)] });

interface SlowLine { client: string; slowJudged: number; returns: number; probes: number; probationLevel: number; holds: number; holdsAfterSlow: number; longestHoldMs: number }

function slowLine(id: string): SlowLine | undefined {
  const l = h.broker.stderr().split('\n').find((s) => s.includes('"slow client closed"') && s.includes(`"${id}"`));
  return l === undefined ? undefined : JSON.parse(l) as SlowLine;
}

/**
 * A QoS 0 publisher that writes as fast as the broker reads, 64 PUBLISHes a turn: loopback's
 * kernel takes writes at once, so a loop that waits only for 'drain' would never yield, and
 * the reader's timer in this process would not run.
 */
async function flood(port: number, topic: string): Promise<{ stop: () => void }> {
  const s = await rawOpen(port, buildConnect({ clientId: uid('pub') }));
  s.on('data', () => {});
  s.on('error', () => {});
  const msg = buildPublish({ topic, payload: Buffer.alloc(1024, 0x70) });
  let stopped = false;
  const more = (): void => {
    for (let i = 0; i < 64 && !stopped; i++) if (!s.write(msg)) { s.once('drain', more); return; }
    if (!stopped) setImmediate(more);
  };
  more();
  return { stop: () => { stopped = true; s.destroy(); } };
}

/** A QoS 0 subscriber that reads at full speed for `swingMs`, then not at all for `swingMs`, and so on. */
async function swingingReader(port: number, topic: string, swingMs: number): Promise<{ id: string; stops: () => number; stop: () => void }> {
  const id = uid('swing');
  const s: net.Socket = await rawOpen(port, buildConnect({ clientId: id }));
  s.write(frame(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(topic), Buffer.from([0])])));
  s.on('data', () => {});
  s.on('error', () => {});
  let stops = 0;
  const timer = setInterval(() => {
    if (s.isPaused()) s.resume(); else { s.pause(); stops++; }
  }, swingMs);
  return { id, stops: () => stops, stop: () => { clearInterval(timer); s.destroy(); } };
}

test('readers near the bound flip: a reader that swings across the slow bound is taken back ever less often, not once per swing', { timeout: 60_000 }, async (t) => {
  const topic = uid('swing');
  const reader = await swingingReader(h.port, topic, SWING_MS);
  await sleep(100);
  const started = Date.now();
  const pub = await flood(h.port, topic);
  await sleep(RUN_MS);
  const elapsed = Date.now() - started;
  pub.stop();
  const stops = reader.stops();
  reader.stop();
  let line: SlowLine | undefined;
  await eventually(() => (line = slowLine(reader.id)) !== undefined, 15_000, 'its "slow client closed" line (a loaded broker closes late)');
  const l = line!;
  t.diagnostic(`${stops} stops in ${elapsed} ms; judged slow ${l.slowJudged}x, taken back ${l.returns}x (probation level up to ${l.probationLevel}); sources waited ${l.holds}x, ${l.holdsAfterSlow}x after, longest ${l.longestHoldMs} ms`);
  // It did swing: judged slow in its stops more than once, so a flip had the chance to repeat.
  assert.ok(l.slowJudged >= 3, `judged slow only ${l.slowJudged} times in ${stops} stops`);
  const bound = 2 + Math.floor(Math.log2(elapsed / (2 * SLOW_MS) + 1));
  assert.ok(l.returns <= bound, `taken back ${l.returns} times in ${stops} stops (${elapsed} ms): at most ${bound} with a doubling probation`);
});

test('readers near the bound flip: the probation doubles with each quick judgement, is capped, and a client that stays waited for sheds it', () => {
  // First judgement: none; judged again within 20 windows of a return: 2, 4, 8 ... 64 windows.
  assert.equal(nextProbationLevel(0, 0, 10_000, SLOW_MS), 0);
  let level = 0;
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) { level = nextProbationLevel(level, 10_000, 10_500, SLOW_MS); seen.push(probationMs(level, SLOW_MS)); }
  assert.deepEqual(seen, [200, 400, 800, 1600, 3200, 6400, 6400, 6400]);
  // Each 20 windows (2 s) without a judgement since the return takes a level off.
  assert.equal(nextProbationLevel(level, 10_000, 10_000 + 2_000, SLOW_MS), level - 1);
  assert.equal(nextProbationLevel(level, 10_000, 10_000 + 3 * 2_000, SLOW_MS), level - 3);
  assert.equal(nextProbationLevel(level, 10_000, 10_000 + 60_000, SLOW_MS), 0);
});

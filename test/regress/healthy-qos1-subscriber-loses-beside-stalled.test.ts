// Regression (issue #12): the healthy QoS 1 subscriber of bench:isolation --stalled 2 lost
// 871-3,584 messages in 2 of 3 rounds on a quiet machine. Two mechanisms, counted:
// - uncounted loss, a held ring's parked frames overwritten (held-ring-parked-frames-overwritten);
// - counted loss (queue full): the healthy subscriber, behind only by its full QoS 1 window,
//   took no bytes for a quarter window (its acks late on a busy or cold broker) and was judged
//   slow as if it had stopped reading; nobody waited for it, its publisher ran free, and its
//   drain-rate average, low from the cold start, brought it back only after 970 ms: its 64 MiB
//   queue overflowed (17,097 of 200,000 lost in a cold baseline run, 2 shards).
// The judgement now gives a client behind by its window a whole window before "took nothing"
// makes it slow, brings it back after one window at 2x the bound (its drain has no kernel
// buffer bursts), and, past a quarter of its queue bounds, judges it on what it took since it
// was judged slow (net/backpressure.ts). Checked here on 2 shards (publisher and healthy
// subscriber on different shards, as in the bench), from a cold broker, by what the broker
// says (its "slow client closed" lines) and by loss, which load does not move:
// - beside 2 stalled subscribers: nothing lost, with and without them; the stalled ones judged
//   slow, no wait for them longer than 20 windows;
// - a bursty QoS 1 reader (reads 40 ms, pauses 40 ms: pauses shorter than --slow-client-ms)
//   loses nothing and, if a loaded machine gets it judged slow at all, is taken back (waited
//   for again) after few of its pauses: a judgement and return per pause is the oscillation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect, frame, mqttString } from '../helpers/raw.ts';
import { eventually, sleep, uid } from '../helpers/clients.ts';
import { parseReport, runTool } from '../bench/run-tool.ts';
import { numberedFlood, onQos1Publish, rawOpen } from './held-ring-clients.ts';

const SLOW_MS = 100;
const LONGEST_HOLD_MS = 20 * SLOW_MS;

const h = useBroker({ shards: 2, extraArgs: ['--slow-client-ms', String(SLOW_MS)] });

interface SlowLine { client: string; filters: string[]; slowJudged: number; returns: number; probes: number; holds: number; holdsAfterSlow: number; longestHoldMs: number }

let seen = 0;
/** The "slow client closed" lines logged since the last call. */
function slowLines(): SlowLine[] {
  const all = h.broker.stderr().split('\n');
  const lines = all.slice(seen).filter((l) => l.includes('"slow client closed"')).map((l) => JSON.parse(l) as SlowLine);
  seen = all.length - 1;
  return lines;
}

const garbageFrames = (): number => h.broker.stderr().split('unknown frame type').length - 1;

test('healthy QoS 1 subscriber loses beside stalled: nothing lost with and without two stalled subscribers, on 2 shards from a cold start', { timeout: 150_000 }, async (t) => {
  // No warm-up on purpose: the cold broker is where a misjudged healthy subscriber lost most.
  const run = await runTool('isolation', ['--host', '127.0.0.1', '--port', String(h.port), '--json', '--messages', '150000', '--stalled', '2', '--with-baseline'], 140_000);
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-2000));
  const r = parseReport(run.stdout);
  const iso = (r.figures as unknown as { isolation: { baseline: { lost: number; healthyRate: number }; healthyRate: number; stalled: { count: number } } }).isolation;
  let lines: SlowLine[] = [];
  await eventually(() => (lines = lines.concat(slowLines())).filter((l) => l.filters.includes('#')).length >= 2, 10_000, 'a "slow client closed" line for each stalled subscriber');
  const stalled = lines.filter((l) => l.filters.includes('#'));
  const healthy = lines.filter((l) => !l.filters.includes('#') && l.filters.some((f) => f.endsWith('/data')));
  t.diagnostic(`healthy ${Math.round(iso.healthyRate)} msg/s, ${Math.round(iso.baseline.healthyRate)} without; healthy judged slow: ` +
    (healthy.map((l) => `${l.slowJudged}x (${l.probes} probes, ${l.holdsAfterSlow} waits after)`).join(', ') || 'never') +
    `; stalled: ${stalled.map((l) => `judged ${l.slowJudged}x, held ${l.holds}x, longest ${l.longestHoldMs} ms`).join('; ')}`);
  assert.equal(garbageFrames(), 0, 'frames from a peer shard were garbage');
  assert.equal(iso.baseline.lost, 0, `the healthy subscriber lost ${iso.baseline.lost} messages without the stalled ones`);
  assert.equal(r.figures.lost, 0, `the healthy subscriber lost ${r.figures.lost} messages beside the stalled ones`);
  assert.equal(stalled.length, 2);
  for (const l of stalled) {
    assert.ok(l.slowJudged >= 1, `${l.client} judged slow`);
    assert.equal(l.holdsAfterSlow, 0, `${l.client}: publishers waited for it after it was judged slow`);
    assert.ok(l.longestHoldMs <= LONGEST_HOLD_MS, `${l.client}: a publisher waited ${l.longestHoldMs} ms for it`);
  }
});

/** A QoS 1 subscriber that reads `onMs`, pauses `offMs`, and acknowledges what it read at once. */
async function burstyReader(port: number, filter: string, onMs: number, offMs: number): Promise<{ seqs: number[]; id: string; pauses: () => number; stop: () => void }> {
  const id = uid('bursty');
  const s: net.Socket = await rawOpen(port, buildConnect({ clientId: id }));
  s.write(frame(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(filter), Buffer.from([1])])));
  const seqs: number[] = [];
  onQos1Publish(s, (buf, topicEnd) => {
    seqs.push(buf.readUInt32BE(topicEnd + 2));
    s.write(frame(0x40, buf.subarray(topicEnd, topicEnd + 2)));
  });
  let on = true;
  let pauses = 0;
  let timer: NodeJS.Timeout;
  const flip = (): void => {
    on = !on;
    if (on) s.resume(); else { s.pause(); pauses++; }
    timer = setTimeout(flip, on ? onMs : offMs);
  };
  timer = setTimeout(flip, onMs);
  return { seqs, id, pauses: () => pauses, stop: () => { clearTimeout(timer); s.destroy(); } };
}

test('healthy QoS 1 subscriber loses beside stalled: a bursty reader (pauses shorter than --slow-client-ms) loses nothing and is hardly waited for after a judgement', { timeout: 120_000 }, async (t) => {
  const COUNT = 40_000;
  const topic = uid('bursty');
  const reader = await burstyReader(h.port, topic, 40, 40);
  await sleep(100);
  slowLines();
  const pub = await numberedFlood(h.port, topic, COUNT, 1024);
  try {
    await eventually(() => new Set(reader.seqs).size >= COUNT, 90_000, 'every message').catch(() => {});
    const got = new Set(reader.seqs).size;
    reader.stop();
    let line: SlowLine | undefined;
    await eventually(() => (line = slowLines().find((l) => l.client === reader.id)) !== undefined, 2_000, 'its line').catch(() => {});
    t.diagnostic(`${got} of ${COUNT}; ${reader.pauses()} pauses; judged slow ${line?.slowJudged ?? 0}x, taken back ${line?.returns ?? 0}x; sources waited ${line?.holds ?? '?'}x, ${line?.holdsAfterSlow ?? 0}x after, longest ${line?.longestHoldMs ?? '?'} ms`);
    assert.equal(got, COUNT, 'the bursty reader lost QoS 1 messages');
    // Oscillation would be a judgement and a return at (nearly) every pause. (Not provoked by
    // reverting 0f33003's or 3e033ea's rules, nor by one-window rules both ways: 1-3 judgements
    // a run, the publisher done before the reader; so this bound is a guard, and the loss above
    // is what this case catches.) Not holdsAfterSlow: once taken back, a client whose queue
    // hovers at the mark makes its publisher wait again after every few acks (by design: it
    // reads at speed), 355-450 times a run at load 9 after a single judgement. Half its pauses:
    // at load 20 the starved test process makes some pauses real (main: judged slow 10x).
    if (line !== undefined) assert.ok(line.returns <= Math.max(2, reader.pauses() / 2), `taken back ${line.returns} times after being judged slow, in ${reader.pauses()} pauses`);
  } finally {
    reader.stop();
    pub.stop();
  }
});

// The hold (src/worker/cluster/hold.ts) alone: what a shard cut off from NATS keeps for other
// nodes. Its bounds (--cluster-hold-bytes refuses, --cluster-hold fails the acks but keeps the
// frames), order of the resend, one commit answer settling every earlier waiter of its node,
// the reachability check before a resend, and "no responders" holding everything again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hold } from '../../src/worker/cluster/hold.ts';

const frame = (n: number, size = 10): Buffer => Buffer.alloc(size, n);
/** The settlement of `p` once the microtasks have run: 'ok', the error's message, or 'pending'. */
async function state(p: Promise<void>): Promise<string> {
  let s = 'pending';
  p.then(() => { s = 'ok'; }, (e: Error) => { s = e.message; });
  await new Promise((r) => setImmediate(r));
  return s;
}
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Asks until past the reachability check: the frames to send and the request's token. */
function askPast(h: Hold, slot: number): { frames: Buffer[]; token: number } {
  const c = h.ask(slot)!;
  assert.equal(c.check, true, 'the first request after NATS is back only checks that the node listens');
  assert.equal(h.answered(slot, c.token), true);
  const a = h.ask(slot)!;
  assert.equal(a.check, false);
  return a;
}

test('hold: past --cluster-hold-bytes a frame is refused and nothing of it is counted; the gauge follows bytes and frames', () => {
  const seen: [number, number][] = [];
  const h = new Hold({ ms: 1000, bytes: 25 }, (b, f) => seen.push([b, f]));
  assert.equal(h.add(0, frame(1)), true);
  assert.equal(h.add(1, frame(2)), true);
  assert.equal(h.add(0, frame(3)), false, '30 bytes > 25');
  assert.equal(h.add(0, frame(4, 5)), true, 'a smaller one still fits');
  assert.equal(h.bytes, 25);
  assert.equal(h.frames, 3);
  assert.deepEqual(seen.at(-1), [25, 3]);
  assert.equal(h.has(0) && h.has(1) && !h.has(2), true);
});

test('hold: a turn shares one waiter per node; an ack held past --cluster-hold fails, its frame stays to be sent', async () => {
  const h = new Hold({ ms: 100, bytes: 1 << 20 });
  h.add(0, frame(1));
  const w1 = h.wait(0, 1000);
  h.add(0, frame(2));
  assert.equal(h.wait(0, 1000), w1, 'the same turn: the same waiter');
  await turn();
  h.add(0, frame(3));
  const w2 = h.wait(0, 1050);
  assert.notEqual(w2, w1, 'a later turn: a waiter of its own');
  assert.equal(h.expire(1099), 0, 'not yet');
  assert.equal(h.expire(1100), 1);
  assert.match(await state(w1), /--cluster-hold/);
  assert.equal(await state(w2), 'pending');
  assert.equal(h.frames, 3, 'the frames of a failed ack stay: a QoS 2 resend is not routed again');
  const a = askPast(h, 0);
  assert.deepEqual(a.frames.map((f) => f[0]), [1, 2, 3], 'in order');
  h.committed(0, a.token);
  assert.equal(await state(w2), 'ok');
  assert.equal(h.empty, true);
  assert.equal(h.bytes, 0);
});

test('hold: one commit answer settles every waiter of its node held before the request, none after it; other nodes wait for their own', async () => {
  const h = new Hold({ ms: 60_000, bytes: 1 << 20 });
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 3; i++) { h.add(0, frame(i)); waits.push(h.wait(0, i)); await turn(); }
  h.add(1, frame(9));
  const other = h.wait(1, 0);
  await turn();
  const a = askPast(h, 0);
  assert.equal(a.frames.length, 3);
  h.add(0, frame(7));
  const later = h.wait(0, 5);
  await turn();
  assert.equal(h.ask(0), null, 'one request out per node');
  h.committed(0, a.token);
  assert.deepEqual(await Promise.all(waits.map(state)), ['ok', 'ok', 'ok'], 'the earliest waiter is not left hanging');
  assert.equal(await state(later), 'pending');
  assert.equal(await state(other), 'pending');
  const b = h.ask(0)!;
  assert.deepEqual(b.frames.map((f) => f[0]), [7], 'only what was not sent yet');
  h.committed(0, b.token);
  assert.equal(await state(later), 'ok');
  assert.equal(h.has(0), false);
  assert.equal(h.has(1), true);
});

test('hold: "no responders" or NATS lost again sends everything again; an answer to an older request settles nothing; a failed commit fails what it covered', async () => {
  const h = new Hold({ ms: 60_000, bytes: 1 << 20 });
  h.add(0, frame(1));
  const w = h.wait(0, 0);
  await turn();
  let a = askPast(h, 0);
  h.again(0, a.token); // no responders
  const c = h.ask(0)!;
  assert.equal(c.check, true, 'it listens no more: checked again first');
  h.answered(0, c.token);
  a = h.ask(0)!;
  assert.deepEqual(a.frames.map((f) => f[0]), [1], 'resent');
  h.restart(); // NATS went away with the request out
  h.committed(0, a.token);
  assert.equal(await state(w), 'pending', 'the old answer confirms nothing');
  a = askPast(h, 0);
  assert.deepEqual(a.frames.map((f) => f[0]), [1]);
  h.failed(0, new Error('could not commit'), a.token);
  assert.equal(await state(w), 'could not commit');
  assert.equal(h.empty, true);
});

test('hold: a node down fails its acks and forgets its frames', async () => {
  const h = new Hold({ ms: 60_000, bytes: 100 });
  h.add(2, frame(1, 60));
  const w = h.wait(2, 0);
  h.drop(2, new Error('node x is down'));
  assert.equal(await state(w), 'node x is down');
  assert.equal(h.bytes, 0);
  assert.equal(h.add(2, frame(2, 60)), true, 'its bytes are free again');
});

test('hold: later frames queue behind what is held until all of it is out to a node known to listen; then they go straight out, and "no responders" makes them queue again', async () => {
  const h = new Hold({ ms: 60_000, bytes: 1 << 20 });
  assert.equal(h.queues(0), false);
  h.add(0, frame(1));
  assert.equal(h.queues(0), true);
  const c = h.ask(0)!;
  assert.equal(h.queues(0), true, 'checked, not yet answered');
  h.answered(0, c.token);
  assert.equal(h.queues(0), true, 'answered, the held frame not yet sent');
  const a = h.ask(0)!;
  assert.equal(h.queues(0), false, 'all held frames are out: a new one follows them on the connection');
  assert.equal(h.has(0), true, 'still waiting for the answer');
  h.again(0, a.token);
  assert.equal(h.queues(0), true);
});

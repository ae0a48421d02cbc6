// Durability (src/worker/durable/durability.ts) alone, on the memory store made to look like one
// on disk whose commits the test completes: the commit gate holds acks until the turn's commit and
// the commit barriers of the peers it forwarded to, keeps each connection's order, withholds acks
// whose peer crashed, answers peers' barriers after its own commit, and restores stored sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stat } from '../../src/shared/stats.ts';
import { ConnState } from '../../src/worker/net/conn-state.ts';
import { Durability } from '../../src/worker/durable/durability.ts';
import { sendGated } from '../../src/worker/durable/gate.ts';
import { FrameType, readCommitBarrier } from '../../src/worker/peers/frames.ts';
import { Message } from '../../src/worker/session/message.ts';
import { context, FakePeers, fakeConn, GatedStore, session, tick } from './parts/fakes.ts';

async function build(count = 2) {
  const ctx = context(count, 0);
  const store = new GatedStore();
  await store.open();
  const peers = new FakePeers(ctx);
  const d = new Durability(ctx, store, peers);
  return { ctx, store, peers, d };
}

const PUBACK = (id: number): Buffer => Buffer.from([0x40, 2, 0, id]);
const settle = async (): Promise<void> => { for (let i = 0; i < 3; i++) await tick(); };

test('a gated ack waits for the turn\'s commit; later packets of that connection queue behind it, and without packets in the gate they go at once', async () => {
  const { d, store } = await build(1);
  assert.equal(d.enabled, true);
  const c = fakeConn('p');
  sendGated(d, c, PUBACK(1), true);
  sendGated(d, c, PUBACK(2), false);
  assert.deepEqual([c.sent.length, c.gated], [0, 2]);
  await settle();
  assert.equal(c.sent.length, 0, 'not before the commit');
  store.commit();
  await settle();
  assert.deepEqual(c.sent.map((b) => b[3]), [1, 2]);
  assert.equal(c.gated, 0);
  sendGated(d, c, PUBACK(3), false);
  assert.deepEqual(c.sent.map((b) => b[3]), [1, 2, 3], 'nothing held: at once');
});

test('an ack for a message forwarded to a peer with persistent sessions waits for that peer\'s commit barrier', async () => {
  const { ctx, d, store, peers } = await build(3);
  ctx.stats.add(1, Stat.PERSISTENT_SESSIONS, 1); // peer 1 has persistent sessions, peer 2 none
  const mark = d.mark();
  d.forwarded(1);
  d.forwarded(2);
  assert.equal(d.changedSince(mark), true);
  const c = fakeConn('p');
  sendGated(d, c, PUBACK(7), true);
  await settle();
  const frames = peers.take();
  assert.deepEqual(frames.map((f) => [f.peer, f.type]), [[1, FrameType.COMMIT_BARRIER]]);
  let token = -1;
  readCommitBarrier(frames[0]!.r, false, { onCommitBarrier: (_from, t) => { token = t; }, onCommitBarrierAck: () => {} });
  store.commit();
  await settle();
  assert.equal(c.sent.length, 0, 'the local commit alone is not enough');
  d.onCommitBarrierAck(token, false);
  await settle();
  assert.deepEqual(c.sent.map((b) => b[3]), [7]);
});

test('a peer that restarts before answering: the ack is not sent, the publisher is disconnected to resend', async () => {
  const { ctx, d, store } = await build(2);
  ctx.stats.add(1, Stat.PERSISTENT_SESSIONS, 1);
  d.forwarded(1);
  const c = fakeConn('p');
  sendGated(d, c, PUBACK(9), true);
  await settle();
  store.commit();
  d.peerRestarted(1);
  await settle();
  assert.equal(c.sent.length, 0);
  assert.equal(c.disconnected.length, 1);
});

test('a peer restart learnt in the turn that forwarded to it: the barrier would go to the new incarnation, so the turn\'s acks are withheld', async () => {
  const { ctx, d, store, peers } = await build(2);
  ctx.stats.add(1, Stat.PERSISTENT_SESSIONS, 1);
  d.forwarded(1); // into the dead incarnation's ring
  const c = fakeConn('p');
  sendGated(d, c, PUBACK(3), true);
  d.peerRestarted(1); // same turn: the group is not sealed yet
  await settle();
  // Whatever the new incarnation answers to a barrier of this turn, the ack does not go out.
  for (const f of peers.take()) {
    if (f.type !== FrameType.COMMIT_BARRIER) continue;
    readCommitBarrier(f.r, false, { onCommitBarrier: (_from, t) => d.onCommitBarrierAck(t, false), onCommitBarrierAck: () => {} });
  }
  store.commit();
  await settle();
  assert.equal(c.sent.length, 0, 'acknowledged although the peer that was to store it died');
  assert.equal(c.disconnected.length, 1);
});

test('withheld PUBRECs: every QoS 2 id of the publisher is forgotten, not only the one before its disconnect', async () => {
  const { ctx, d, store } = await build(2);
  ctx.stats.add(1, Stat.PERSISTENT_SESSIONS, 1);
  const c = fakeConn('p');
  const s = session('p', c, 4, 3600);
  // As the real connection does: a disconnect detaches the session at once.
  c.disconnect = (reason: number): void => { c.disconnected.push(reason); c.state = ConnState.CLOSED; c.session = null; };
  d.forwarded(1);
  for (const id of [4, 5, 6]) { s.writableInboundQos2().add(id); sendGated(d, c, Buffer.from([0x50, 2, 0, id]), true); }
  await settle();
  store.commit();
  d.peerRestarted(1);
  await settle();
  assert.deepEqual([c.sent.length, c.disconnected.length], [0, 1]);
  assert.deepEqual([...s.inboundQos2], [], 'a resend of an id left here would get PUBREC without being routed');
});

test('a restarted shard keeps its dead incarnation\'s persistent-session count until its homed sessions are loaded', async () => {
  const ctx = context(2, 1);
  ctx.stats.set(1, Stat.PERSISTENT_SESSIONS, 3); // left in the row by the dead incarnation
  const store = new GatedStore();
  await store.open();
  const d = new Durability(ctx, store, new FakePeers(ctx));
  const s = session('back', null, 4, 0xffffffff);
  d.owned(s, true);
  assert.equal(ctx.stats.get(1, Stat.PERSISTENT_SESSIONS), 4, 'peers see sessions here all along');
  d.homedLoaded();
  assert.equal(ctx.stats.get(1, Stat.PERSISTENT_SESSIONS), 1);
  d.homedLoaded();
  assert.equal(ctx.stats.get(1, Stat.PERSISTENT_SESSIONS), 1, 'once');
});

test('a commit barrier whose commit fails is answered as lost', async () => {
  const ctx = context(2, 0);
  const store = new GatedStore();
  await store.open();
  store.flushed = () => Promise.reject(new Error('disk full'));
  const peers = new FakePeers(ctx);
  const d = new Durability(ctx, store, peers);
  d.onCommitBarrier(1, 5, false);
  await settle();
  const [f] = peers.take();
  readCommitBarrier(f!.r, true, { onCommitBarrier: () => assert.fail(), onCommitBarrierAck: (token, lost) => assert.deepEqual([token, lost], [5, true]) });
});

test('a peer\'s commit barrier is answered after this shard\'s commit', async () => {
  const { d, store, peers } = await build(2);
  d.onCommitBarrier(1, 42, false);
  await settle();
  assert.equal(peers.take().length, 0);
  store.commit();
  await settle();
  const [f] = peers.take();
  assert.deepEqual([f!.peer, f!.type], [1, FrameType.COMMIT_BARRIER_ACK]);
  readCommitBarrier(f!.r, true, { onCommitBarrier: () => assert.fail(), onCommitBarrierAck: (token, lost) => assert.deepEqual([token, lost], [42, false]) });
});

test('a stored session comes back with its queue, its in-flight messages and its inbound QoS 2 ids', async () => {
  const { d, store } = await build(1);
  const s = session('keep', null, 4, 0xffffffff);
  const queued = { msg: new Message('q', Buffer.from('1'), 1, false, null, 0, ''), qos: 1 as const, retain: false, subIds: null, packetId: 0, state: 0 as const, seq: 0 };
  const sent = { msg: new Message('q', Buffer.from('2'), 2, false, null, 0, ''), qos: 2 as const, retain: false, subIds: null, packetId: 5, state: 1 as const, seq: 0 };
  const mark = d.mark();
  d.putOutbound(s, queued);
  d.putOutbound(s, sent);
  d.putInbound(s, 11);
  assert.equal(d.changedSince(mark), true, 'writes count for the gate');
  const back = session('keep', null, 4, 0xffffffff);
  d.restore(back);
  assert.deepEqual([back.queued, back.peek()?.msg.payload.toString()], [1, '1']);
  assert.deepEqual([...back.inflight.keys()], [5]);
  assert.deepEqual([...back.inboundQos2], [11]);
  assert.ok(back.nextSeq > sent.seq, 'new records do not overwrite restored ones');
  d.deleteOutbound(back, back.inflight.get(5)!);
  assert.equal(store.loadOutbound('keep').length, 1);
});

test('an ack that waits long (a frame held while NATS is away) waits on its connection alone: another connection\'s ack of the same turn goes at the commit, and so does the held connection\'s later ack for a local-only message', async () => {
  const { d, store } = await build(1);
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const a = fakeConn('held');
  const b = fakeConn('local');
  d.waitFor(held, true);
  sendGated(d, a, PUBACK(1), true);
  sendGated(d, b, PUBACK(2), true);
  await settle();
  store.commit();
  await settle();
  assert.deepEqual(b.sent.map((x) => x[3]), [2], 'not stopped by the held ack in its group');
  assert.equal(a.sent.length, 0);
  sendGated(d, a, PUBACK(3), false);
  sendGated(d, b, PUBACK(4), false);
  await settle();
  store.commit();
  await settle();
  assert.deepEqual(b.sent.map((x) => x[3]), [2, 4]);
  assert.deepEqual(a.sent.map((x) => x[3]), [3], 'a local-only ack does not wait behind the held one (the server\'s acks need no order)');
  release();
  await settle();
  assert.deepEqual(a.sent.map((x) => x[3]), [3, 1]);
  assert.equal(a.gated, 0);
});

test('a held ack that fails (past --cluster-hold) closes its connection with 0x80 instead; a later local-only ack went out at its commit', async () => {
  const { d, store } = await build(1);
  let fail!: (e: Error) => void;
  const held = new Promise<void>((_r, j) => { fail = j; });
  const a = fakeConn('held');
  d.waitFor(held, true);
  sendGated(d, a, PUBACK(1), true);
  sendGated(d, a, PUBACK(2), false);
  await settle();
  store.commit();
  await settle();
  assert.deepEqual(a.sent.map((x) => x[3]), [2]);
  fail(new Error('held too long'));
  await settle();
  assert.deepEqual(a.sent.map((x) => x[3]), [2]);
  assert.deepEqual(a.disconnected, [0x80]);
});

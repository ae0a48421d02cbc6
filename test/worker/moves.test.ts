// Moves (src/worker/session/moves.ts) alone: a session moving between shards loses nothing and
// duplicates nothing. On the new shard deliveries through its own routes are held while the
// ghost's forwarded ones are delivered, and released at MOVE_DONE above the forwarded floor; on
// the old shard the ghost forwards (DIRECT) until MOVE_READY, then retires. Fake peers, a
// recording delivery and routing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { readDirect, readMove } from '../../src/worker/session/frames.ts';
import { Message } from '../../src/worker/session/message.ts';
import { Moves } from '../../src/worker/session/moves.ts';
import type { Session } from '../../src/worker/session/session.ts';
import type { Subscription } from '../../src/worker/session/subscription.ts';
import { context, FakePeers, fakeConn, session, subscribe } from './parts/fakes.ts';

function build(count = 2, id = 1) {
  const ctx = context(count, id);
  const peers = new FakePeers(ctx);
  const sessions = new Map<string, Session>();
  const delivered: string[] = [];
  const delivery = { deliverNow: (_s: Session, m: Message): void => { delivered.push(m.payload.toString()); } };
  const removed: Subscription[] = [];
  const routing = { remove: (sub: Subscription): void => { removed.push(sub); } };
  const gate = { enabled: true, forwards: 0, countForward() { this.forwards++; }, chain: () => Promise.resolve(false) };
  const moves = new Moves(ctx, peers, sessions, delivery, routing, gate);
  return { peers, sessions, moves, delivered, removed, gate };
}

/** A message published on shard `src` as its `seq`-th. */
function published(src: number, seq: number, body: string): Message {
  const m = new Message('t', Buffer.from(body), 1, false, null, 0, 'pub');
  m.src = src;
  m.seq = seq;
  return m;
}

test('arriving: own-route deliveries are held, forwarded ones delivered, and at MOVE_DONE the held ones above the floor follow', () => {
  const { peers, sessions, moves, delivered } = build(2, 1);
  const s = session('mv', fakeConn('mv'));
  s.token = 4;
  sessions.set('mv', s);
  moves.arrive(s, 0, 9); // the ghost is on shard 0, forwarding under token 9
  assert.equal(moves.active(), true);
  // Through our own new route, publisher shard 0's messages 1..3 arrive first, and are held.
  for (let i = 1; i <= 3; i++) assert.equal(moves.divert(s, published(0, i, `own-${i}`), 1, false, null), true);
  // The ghost forwards 1 and 2 (it had them before the peers knew our route).
  moves.onDirect(4, 'mv', 1, false, null, published(0, 1, 'fwd-1'));
  moves.onDirect(4, 'mv', 1, false, null, published(0, 2, 'fwd-2'));
  assert.deepEqual(delivered, ['fwd-1', 'fwd-2']);
  // Our routes are known everywhere: tell the ghost.
  assert.equal(peers.barriers.length, 1);
  peers.releaseBarriers();
  const [ready] = peers.take();
  assert.deepEqual([ready!.peer, ready!.type], [0, FrameType.MOVE_READY]);
  readMove(ready!.r, false, { onReady: (token: number, id: string) => assert.deepEqual([token, id], [9, 'mv']) } as never);
  moves.onDone(9, 'mv');
  assert.deepEqual(delivered, ['fwd-1', 'fwd-2', 'own-3'], 'copies at or below the floor are dropped, order kept');
  peers.releaseBarriers();
  assert.equal(s.moving, null, 'the move is over');
  assert.equal(moves.active(), false);
});

test('the ghost forwards each delivery as DIRECT to the new owner, then retires at MOVE_READY', () => {
  const { peers, moves, removed, gate } = build(2, 0);
  const g = session('gh', null, 4, 0xffffffff);
  const sub = subscribe(g, 'g/#', 1);
  moves.leave(g, 1, 33);
  assert.equal(moves.divert(g, published(0, 5, 'late'), 1, false, [8]), true);
  assert.equal(gate.forwards, 1, 'the publisher\'s ack waits for the new owner\'s commit');
  const [d] = peers.take();
  assert.deepEqual([d!.peer, d!.type], [1, FrameType.DIRECT]);
  readDirect(d!.r, { onDirect: (token: number, id: string, qos: number, _retain: boolean, subIds: number[] | null, m: Message) =>
    assert.deepEqual([token, id, qos, subIds, m.payload.toString(), m.src, m.seq], [33, 'gh', 1, [8], 'late', 0, 5]) } as never);
  moves.onReady(33, 'gh');
  peers.releaseBarriers();
  assert.deepEqual(removed, [sub], 'its routes go');
  const [done] = peers.take();
  assert.deepEqual([done!.peer, done!.type], [1, FrameType.MOVE_DONE]);
  assert.equal(g.moving, null);
});

test('a peer that restarts ends the moves that depend on it: held messages are delivered here', () => {
  const { sessions, moves, delivered } = build(2, 1);
  const s = session('pr', fakeConn('pr'));
  s.token = 2;
  sessions.set('pr', s);
  moves.arrive(s, 0, 3);
  moves.divert(s, published(0, 1, 'held'), 1, false, null);
  moves.peerRestarted(0);
  assert.deepEqual(delivered, ['held']);
  assert.equal(s.moving, null);
});

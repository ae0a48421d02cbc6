// Registry (src/worker/session/registry.ts) alone: client-id ownership at the home shard, claims,
// takeovers, the hand-over of a session's state, and the restart sync that holds claims until
// every peer's ownership list is in, with fake peers and a recording session lifecycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/shared/store/memory-store.ts';
import { Reason } from '../../src/shared/protocol/reason-codes.ts';
import { decodeSession } from '../../src/worker/durable/session-codec.ts';
import { FrameType, homeShard, readSyncDone } from '../../src/worker/peers/frames.ts';
import { readClaim, readSession, readTakeover } from '../../src/worker/session/frames.ts';
import { Registry, type RegistryHost } from '../../src/worker/session/registry.ts';
import type { Session } from '../../src/worker/session/session.ts';
import { parseFilter } from '../../src/worker/session/subscription.ts';
import { context, FakePeers, fakeConn, session, subscribe, type FakeConn } from './parts/fakes.ts';

/** A client id whose home is shard `home` of `count`. */
function idHomedAt(home: number, count: number, prefix = 'c'): string {
  for (let i = 0; ; i++) if (homeShard(`${prefix}${i}`, count) === home) return `${prefix}${i}`;
}

function build(count = 2, id = 0) {
  const ctx = context(count, id);
  const peers = new FakePeers(ctx);
  const sessions = new Map<string, Session>();
  const calls: unknown[][] = [];
  const moves = { relay: (...a: unknown[]) => calls.push(['relay', ...a]), arrive: (...a: unknown[]) => calls.push(['arrive', ...a]), abandon: (...a: unknown[]) => calls.push(['abandon', ...a]) };
  const registry = new Registry(ctx, peers, new MemoryStore(), sessions, moves as never);
  const host: RegistryHost = {
    detach: (s, reason, cleanStart, ghostTo) => { calls.push(['detach', s.clientId, reason, cleanStart, ghostTo]); sessions.delete(s.clientId); },
    adoptOffline: (clientId, token, state) => calls.push(['adoptOffline', clientId, token, state !== null]),
    loadHomed: () => calls.push(['loadHomed']),
    storedHomed: () => [],
    dropStored: () => {},
  };
  registry.host = host;
  const done: [FakeConn, Buffer | null][] = [];
  const claimed = (c: FakeConn) => (conn: unknown, state: Buffer | null): void => { assert.equal(conn, c); done.push([c, state]); };
  return { ctx, peers, sessions, registry, calls, done, claimed };
}

test('a claim for a free id homed here completes at once, without a session', () => {
  const { registry, done, claimed } = build(2, 0);
  const c = fakeConn(idHomedAt(0, 2));
  registry.claim(c, claimed(c));
  assert.deepEqual(done, [[c, null]]);
  assert.equal(registry.owners.get(c.clientId)?.shard, 0);
});

test('a claim for an id homed elsewhere goes to its home shard as CLAIM; the SESSION answer completes it', () => {
  const { registry, peers, done, claimed } = build(2, 0);
  const c = fakeConn(idHomedAt(1, 2));
  c.cleanStart = false;
  registry.claim(c, claimed(c));
  const [f] = peers.take();
  assert.deepEqual([f!.peer, f!.type], [1, FrameType.CLAIM]);
  readClaim(f!.r, { handleClaim: (id: string, from: number, token: number, clean: boolean) => assert.deepEqual([id, from, token, clean], [c.clientId, 0, c.token, false]) } as never);
  assert.equal(done.length, 0);
  registry.handleSession(c.token, c.clientId, Buffer.from([1]));
  assert.deepEqual(done.map(([x, st]) => [x, st?.length]), [[c, 1]]);
});

test('at the home shard, a second claim takes the session over from the owning shard', () => {
  const { registry, peers } = build(3, 0);
  const id = idHomedAt(0, 3);
  registry.handleClaim(id, 1, 100, false);
  const first = peers.take();
  assert.deepEqual(first.map((f) => [f.peer, f.type]), [[1, FrameType.SESSION]], 'the first owner gets no session');
  registry.handleClaim(id, 2, 200, false);
  const [t] = peers.take();
  assert.deepEqual([t!.peer, t!.type], [1, FrameType.TAKEOVER]);
  readTakeover(t!.r, { handleTakeover: (cid: string, prev: number, to: number, token: number) => assert.deepEqual([cid, prev, to, token], [id, 100, 2, 200]) } as never);
  assert.deepEqual(registry.owners.get(id), { shard: 2, token: 200 });
});

test('at the owner, a takeover detaches the session (0x8E) and sends its state to the new owner', () => {
  const { registry, sessions, peers, calls } = build(2, 0);
  const s = session('owned', fakeConn('owned'), 4, 0xffffffff);
  subscribe(s, 'keep/#', 1);
  s.token = 5;
  sessions.set('owned', s);
  registry.handleTakeover('owned', 5, 1, 77, false);
  assert.deepEqual(calls[0], ['detach', 'owned', Reason.SESSION_TAKEN_OVER, false, 1]);
  const [f] = peers.take();
  assert.deepEqual([f!.peer, f!.type], [1, FrameType.SESSION]);
  readSession(f!.r, { handleSession: (token: number, id: string, state: Buffer | null, ghost: number) => {
    assert.deepEqual([token, id, ghost], [77, 'owned', 0], 'a ghost on this shard forwards meanwhile');
    assert.deepEqual([...decodeSession(id, state!, parseFilter).subs.keys()], ['keep/#']);
  } } as never);
});

test('a claim whose connection went away: its persistent session is kept offline', () => {
  const { registry, calls, claimed } = build(2, 0);
  const c = fakeConn(idHomedAt(1, 2));
  registry.claim(c, claimed(c));
  c.close();
  registry.handleSession(c.token, c.clientId, Buffer.from([1]));
  assert.deepEqual(calls, [['adoptOffline', c.clientId, c.token, true]]);
});

test('after a restart, claims wait until every peer sent its ownership list; then SYNC_DONE goes to all', () => {
  const { registry, peers, calls, done, claimed } = build(3, 0);
  registry.start(true);
  assert.equal(registry.syncing, true);
  assert.deepEqual(calls, []);
  const c = fakeConn(idHomedAt(0, 3));
  registry.claim(c, claimed(c));
  registry.handleOwned(c.clientId, 2, 9); // peer 2 owns it
  registry.onSyncDone();
  assert.equal(done.length, 0);
  registry.onSyncDone();
  assert.equal(registry.syncing, false);
  assert.deepEqual(calls, [['loadHomed']]);
  const frames = peers.take();
  assert.deepEqual(frames.filter((f) => f.type === FrameType.SYNC_DONE).map((f) => [f.peer, readSyncDone(f.r)]), [[1, 0], [2, 0]]);
  assert.deepEqual(frames.filter((f) => f.type === FrameType.TAKEOVER).map((f) => f.peer), [2], 'the deferred claim takes the session from peer 2');
});

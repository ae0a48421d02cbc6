// The session lifecycle (src/worker/session/lifecycle.ts) alone, on the memory store with a
// recording routing and registry: a session ends with its connection or goes offline until its
// expiry, its will goes out at once or after its delay (never twice), and a session handed to
// another connection is not ended later by its old expiry timer, even past setTimeout's limit.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/shared/store/memory-store.ts';
import { Reason } from '../../src/shared/protocol/reason-codes.ts';
import { Durability } from '../../src/worker/durable/durability.ts';
import { SessionLifecycle } from '../../src/worker/session/lifecycle.ts';
import type { Message } from '../../src/worker/session/message.ts';
import type { Session, Will } from '../../src/worker/session/session.ts';
import type { Subscription } from '../../src/worker/session/subscription.ts';
import { context, FakePeers, fakeConn, session, subscribe } from './parts/fakes.ts';

const DAY = 24 * 3600 * 1000;

async function build() {
  const ctx = context(1, 0);
  const store = new MemoryStore();
  await store.open();
  const sessions = new Map<string, Session>();
  const events: string[] = [];
  const routing = {
    add: (sub: Subscription): void => { events.push(`route+ ${sub.filter}`); },
    remove: (sub: Subscription): void => { events.push(`route- ${sub.filter}`); },
    publish: (m: Message): void => { events.push(`will ${m.topic}`); },
  };
  const registry = {
    owners: new Map<string, { shard: number; token: number }>(),
    home: (): number => 0,
    allocateToken: (): number => 1,
    own: (): void => {},
    release: (id: string): void => { events.push(`release ${id}`); },
  };
  const moves = { leave: (): void => { events.push('ghost'); } };
  const lifecycle = new SessionLifecycle(ctx, store, sessions, new Durability(ctx, store, new FakePeers(ctx)), routing, registry, moves);
  return { lifecycle, sessions, events, store };
}

const will = (delayMs: number): Will => ({ topic: 'last/words', payload: Buffer.from('bye'), qos: 1, retain: false, props: null, expiry: -1, delayMs });

function connected(l: SessionLifecycle, id: string, expiry: number, w: Will | null) {
  const c = fakeConn(id);
  const s = session(id, c, 4, expiry);
  subscribe(s, `${id}/#`, 1);
  s.will = w;
  l.adopt(s);
  return { c, s };
}

test('a session that ends with its connection: will at once, routes and ownership released', async () => {
  const { lifecycle, sessions, events } = await build();
  const { c, s } = connected(lifecycle, 'a', 0, will(0));
  s.conn = null;
  lifecycle.connectionClosed(c, s);
  assert.deepEqual(events, ['route+ a/#', 'will last/words', 'route- a/#', 'release a']);
  assert.equal(sessions.has('a'), false);
});

test('a normal DISCONNECT drops the will; the session stays offline and is kept in the store', async () => {
  const { lifecycle, sessions, events, store } = await build();
  const { c, s } = connected(lifecycle, 'b', 3600, will(0));
  c.disconnectNormal = true;
  s.conn = null;
  lifecycle.connectionClosed(c, s);
  assert.deepEqual(events, ['route+ b/#']);
  assert.equal(sessions.get('b'), s);
  assert.equal(store.getSession('b')?.clientId, 'b');
  s.clearTimers();
});

test('a delayed will goes out once after its delay; the session ends at its expiry', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const { lifecycle, events } = await build();
    const { c, s } = connected(lifecycle, 'd', 60, will(10_000));
    s.conn = null;
    lifecycle.connectionClosed(c, s);
    mock.timers.tick(9_999);
    assert.deepEqual(events, ['route+ d/#']);
    mock.timers.tick(1);
    assert.deepEqual(events, ['route+ d/#', 'will last/words']);
    mock.timers.tick(50_000);
    assert.deepEqual(events, ['route+ d/#', 'will last/words', 'route- d/#', 'release d'], 'ended at 60 s, no second will');
  } finally { mock.timers.reset(); }
});

test('a session taken over is not ended later by its old expiry timer, even one longer than 24.8 days (regression)', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const { lifecycle, sessions, events } = await build();
    const { c, s } = connected(lifecycle, 'e', 30 * 24 * 3600, null); // expires 30 days after it goes offline
    s.conn = null;
    lifecycle.connectionClosed(c, s);
    mock.timers.tick(25 * DAY); // past setTimeout's limit: the expiry timer's second link is armed
    lifecycle.detach(s, Reason.SESSION_TAKEN_OVER, false); // a new connection takes the session
    events.length = 0;
    mock.timers.tick(10 * DAY);
    assert.deepEqual(events, [], 'nothing ended, nothing released');
    assert.equal(sessions.has('e'), false);
  } finally { mock.timers.reset(); }
});

test('detaching a connected session (takeover): its connection is told 0x8E; a clean start sends a delayed will at once', async () => {
  const { lifecycle, events } = await build();
  const { c, s } = connected(lifecycle, 'f', 3600, will(5000));
  lifecycle.detach(s, Reason.SESSION_TAKEN_OVER, true);
  assert.deepEqual(c.disconnected, [Reason.SESSION_TAKEN_OVER]);
  assert.deepEqual(events, ['route+ f/#', 'will last/words', 'route- f/#']);
});

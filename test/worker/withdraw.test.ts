// Withdrawn routes (src/worker/routing/withdraw.ts) alone, with fake peers: the publishing side
// (a message whose only routes at a shard are withdrawn for its QoS class is not written there,
// and its drops are counted here), and the subscribers' side (a filter is withdrawn only while
// everyone on it would drop, and sent again as soon as one of them may take a message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/shared/topics/trie.ts';
import { Stat, WithdrawStat } from '../../src/shared/stats.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { readWithdraw } from '../../src/worker/routing/frames.ts';
import { Routing } from '../../src/worker/routing/routing.ts';
import { LEASE_MS, WithdrawClass } from '../../src/worker/routing/withdraw.ts';
import { Message } from '../../src/worker/session/message.ts';
import type { Session } from '../../src/worker/session/session.ts';
import type { Subscription } from '../../src/worker/session/subscription.ts';
import type { BrokerConfig } from '../../src/shared/config.ts';
import { context, FakePeers, fakeConn, session, subscribe } from './parts/fakes.ts';

function build(count = 2, id = 0, config: Partial<BrokerConfig> = {}) {
  const ctx = context(count, id, { maxQueuedMessages: 2, maxQueuedQos0: 1, maxQueuedBytes: 0, ...config });
  const peers = new FakePeers(ctx);
  const local = new TopicTrie<Subscription>();
  const delivery = { deliverLocal: (): void => {}, deliverView: (): void => {}, deliverTo: (): void => {} };
  const gate = { forwarded() {}, waitFor() {}, lostForward() {}, refusedForward() {}, committedAt: (): Promise<boolean> => Promise.resolve(false) };
  const retain = { set: (): Promise<void> => Promise.resolve(), replica: (): void => {} };
  const routing = new Routing(ctx, peers, local, delivery as never, gate, retain);
  const stat = (i: number): number => ctx.stats.get(id, i);
  return { ctx, peers, local, routing, stat };
}

const msg = (topic: string, qos: 0 | 1 | 2, payload = 'x'): Message => new Message(topic, Buffer.from(payload), qos, false, null, 0, 'pub');
const publishes = (peers: FakePeers): number[] => peers.take().filter((f) => f.type === FrameType.PUBLISH).map((f) => f.peer);

/** A subscriber on `filter` that stopped reading: judged slow, its queue at the bound of `qos`'s class. */
function stalled(id: string, filter: string, qos: 0 | 1 | 2, fill: 0 | 1 = qos === 0 ? 0 : 1, n = 2): { s: Session; sub: Subscription } {
  const c = fakeConn(id);
  c.slow = true;
  const s = session(id, c);
  const sub = subscribe(s, filter, qos);
  for (let i = 0; i < n; i++) s.enqueue({ msg: msg('q', fill), qos: fill, retain: false, subIds: null, packetId: 0, state: 0, seq: 0 });
  return { s, sub };
}

/** The WITHDRAW frames sent so far, decoded. */
function withdraws(peers: FakePeers): { peer: number; filter: string; cls: number; on: boolean; atQos0: number; full: number }[] {
  const out: { peer: number; filter: string; cls: number; on: boolean; atQos0: number; full: number }[] = [];
  for (const f of peers.take()) {
    if (f.type !== FrameType.WITHDRAW) continue;
    readWithdraw(f.r, { applyWithdraw: (_shard, filter, cls, on, atQos0, full) => out.push({ peer: f.peer, filter, cls, on, atQos0, full }) });
  }
  return out;
}

test('a message whose only routes at a shard are withdrawn for its QoS class is not sent there; its drops are counted here', () => {
  const { peers, routing, stat } = build();
  routing.applyRoute(true, 1, 'a/#');
  routing.applyWithdraw(1, 'a/#', WithdrawClass.QOS12, true, 1, 2, -1);
  routing.publish(msg('a/b', 1), Date.now());
  assert.deepEqual(publishes(peers), [], 'not written into the ring');
  assert.equal(stat(Stat.DROPPED_QOS0), 1);
  assert.equal(stat(Stat.DROPPED_QUEUE_FULL), 2);
  assert.equal(stat(WithdrawStat.SKIPPED), 1);
  // QoS 0 is another class: it goes.
  routing.publish(msg('a/b', 0), Date.now());
  assert.deepEqual(publishes(peers), [1]);
  assert.equal(stat(Stat.DROPPED_QOS0), 1);
});

test('a message that also matches a route of that shard that is not withdrawn goes there, and nothing is counted here', () => {
  const { peers, routing, stat } = build();
  routing.applyRoute(true, 1, 'a/#');
  routing.applyRoute(true, 1, 'a/b');
  routing.applyWithdraw(1, 'a/#', WithdrawClass.QOS12, true, 0, 1, -1);
  routing.publish(msg('a/b', 1), Date.now());
  assert.deepEqual(publishes(peers), [1]);
  assert.equal(stat(Stat.DROPPED_QUEUE_FULL), 0);
  assert.equal(stat(WithdrawStat.SKIPPED), 0);
  routing.publish(msg('a/c', 1), Date.now());
  assert.deepEqual(publishes(peers), []);
  assert.equal(stat(Stat.DROPPED_QUEUE_FULL), 1);
});

test('a QoS 1/2 message that fits the byte room of a withdrawn route still goes', () => {
  const { peers, routing, stat } = build();
  routing.applyRoute(true, 1, 'a/#');
  routing.applyWithdraw(1, 'a/#', WithdrawClass.QOS12, true, 0, 1, 10);
  routing.publish(msg('a/b', 1, 'x'.repeat(7)), Date.now()); // 3 + 7 = 10 bytes: fits
  assert.deepEqual(publishes(peers), [1]);
  routing.publish(msg('a/b', 1, 'x'.repeat(8)), Date.now());
  assert.deepEqual(publishes(peers), []);
  assert.equal(stat(Stat.DROPPED_QUEUE_FULL), 1);
});

test('a withdraw lapses LEASE_MS after it was announced unless renewed, and ends when the shard sends its route again', () => {
  const { peers, routing } = build();
  routing.applyRoute(true, 1, 'a/#');
  routing.applyWithdraw(1, 'a/#', WithdrawClass.QOS0, true, 1, 0, -1);
  const now = Date.now();
  routing.publish(msg('a/b', 0), now);
  assert.deepEqual(publishes(peers), []);
  routing.publish(msg('a/b', 0), now + LEASE_MS + 1);
  assert.deepEqual(publishes(peers), [1], 'past the lease');
  routing.applyWithdraw(1, 'a/#', WithdrawClass.QOS0, false, 0, 0, -1);
  routing.publish(msg('a/b', 0), now);
  assert.deepEqual(publishes(peers), [1], 'sent again');
});

test('a filter is withdrawn only when everyone on it would drop, with their counts, announced once to every peer', () => {
  for (const bSlow of [false, true]) {
    const { peers, routing, stat } = build(3, 0);
    const a = stalled('a', 'd/#', 1);
    const b = stalled('b', 'd/#', 0);
    b.s.conn!.slow = bSlow;
    routing.add(a.sub);
    routing.add(b.sub);
    peers.take();
    routing.withdraws.consider('d/x', 1, 100);
    if (!bSlow) { assert.deepEqual(withdraws(peers), [], 'b is not slow'); continue; }
    assert.deepEqual(withdraws(peers), [
      { peer: 1, filter: 'd/#', cls: WithdrawClass.QOS12, on: true, atQos0: 1, full: 1 },
      { peer: 2, filter: 'd/#', cls: WithdrawClass.QOS12, on: true, atQos0: 1, full: 1 },
    ]);
    assert.equal(stat(WithdrawStat.ROUTES), 1);
    assert.equal(stat(WithdrawStat.ANNOUNCED), 1);
    routing.withdraws.consider('d/x', 1, 100);
    assert.deepEqual(withdraws(peers), [], 'not again before it needs renewing');
  }
});

test('a QoS 1 subscriber whose queue holds no QoS 0 does not make a filter withdrawn for QoS 0', () => {
  const { peers, routing } = build();
  const a = stalled('a', 'd/#', 1);
  routing.add(a.sub);
  peers.take();
  routing.withdraws.consider('d/x', 0, 100);
  assert.deepEqual(withdraws(peers), [], 'it would queue a QoS 0 message');
  routing.withdraws.consider('d/x', 1, 100);
  assert.equal(withdraws(peers).length, 1, 'but drop a QoS 1 one');
});

test('not withdrawn for a session with another subscription, an access guard, No Local, a move, or room in its queue', () => {
  const cases: [string, (x: { s: Session; sub: Subscription }) => void][] = [
    ['another subscription', (x) => { subscribe(x.s, 'other', 1); }],
    ['an access guard', (x) => { x.sub.guard = {} as never; }],
    ['No Local', (x) => { x.sub.noLocal = true; }],
    ['a move', (x) => { x.s.moving = {} as never; }],
    ['room in its queue', (x) => { x.s.shift(); }],
    ['offline', (x) => { x.s.conn = null; }],
  ];
  for (const [what, change] of cases) {
    const { peers, routing } = build();
    const x = stalled('a', 'd/#', 1);
    routing.add(x.sub);
    change(x);
    peers.take();
    routing.withdraws.consider('d/x', 1, 100);
    assert.deepEqual(withdraws(peers), [], what);
  }
});

test('a withdrawn route is sent again when its subscriber may take a message (its queue shifts) or a subscriber joins it (its SUBACK waits)', () => {
  const shifted = build();
  const a = stalled('a', 'd/#', 1);
  shifted.routing.add(a.sub);
  shifted.routing.withdraws.consider('d/x', 1, 100);
  assert.equal(withdraws(shifted.peers).length, 1);
  a.s.shift();
  assert.deepEqual(withdraws(shifted.peers).map((w) => [w.filter, w.cls, w.on]), [['d/#', WithdrawClass.QOS12, false]]);
  assert.equal(shifted.stat(WithdrawStat.ROUTES), 0);

  const joined = build();
  const b = stalled('b', 'd/#', 1);
  joined.routing.add(b.sub);
  joined.routing.withdraws.consider('d/x', 1, 100);
  joined.peers.take();
  joined.routing.announced = false;
  joined.routing.add(subscribe(session('c', fakeConn('c')), 'd/#', 1));
  assert.deepEqual(withdraws(joined.peers).map((w) => w.on), [false]);
  assert.equal(joined.routing.announced, true, 'the new SUBACK waits for the peers to have it');
});

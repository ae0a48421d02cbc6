// Routing (src/worker/routing/routing.ts) alone: a shard's route announcements, the replicated
// route table, forwarding one frame per interested shard, shared groups, built with fake peers,
// a recording delivery, gate and retained sync (no Shard, no sockets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/shared/topics/trie.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { PubFlag, PublishView } from '../../src/worker/protocol/publish-view.ts';
import { readRoute, readShare } from '../../src/worker/routing/frames.ts';
import { Routing, shareKey } from '../../src/worker/routing/routing.ts';
import { Message } from '../../src/worker/session/message.ts';
import type { Subscription } from '../../src/worker/session/subscription.ts';
import { context, FakePeers, fakeConn, session, subscribe } from './parts/fakes.ts';

function build(count = 3, id = 0) {
  const ctx = context(count, id);
  const peers = new FakePeers(ctx);
  const local = new TopicTrie<Subscription>();
  const delivered: { kind: string; topic: string; to?: string }[] = [];
  const delivery = {
    deliverLocal: (m: Message): void => { delivered.push({ kind: 'local', topic: m.topic }); },
    deliverView: (v: PublishView): void => { delivered.push({ kind: 'view', topic: v.topic }); },
    deliverTo: (s: { clientId: string }, m: Message): void => { delivered.push({ kind: 'to', topic: m.topic, to: s.clientId }); },
  };
  const gate = { forwardedTo: [] as number[], waited: 0, lost: 0,
    forwarded(peer: number) { this.forwardedTo.push(peer); }, waitFor() { this.waited++; }, lostForward() { this.lost++; }, refusedForward() { this.lost++; }, committedAt: (): Promise<boolean> => Promise.resolve(false) };
  const retained: string[] = [];
  const retain = { set: (m: Message): Promise<void> => { retained.push(m.topic); return Promise.resolve(); }, replica: (m: Message): void => { retained.push('replica:' + m.topic); } };
  const routing = new Routing(ctx, peers, local, delivery as never, gate, retain);
  return { ctx, peers, local, routing, delivered, gate, retained };
}

const msg = (topic: string, qos: 0 | 1 | 2 = 0, retain = false): Message => new Message(topic, Buffer.from('x'), qos, retain, null, 0, 'pub');

test('the first subscriber of a filter is announced to every other shard, the last one leaving too', () => {
  const { peers, routing, local } = build(3, 0);
  const a = subscribe(session('a', fakeConn('a')), 's/+', 1);
  const b = subscribe(session('b', fakeConn('b')), 's/+', 0);
  routing.add(a);
  routing.add(b);
  routing.remove(a);
  routing.remove(b);
  const seen: unknown[] = [];
  for (const f of peers.take()) {
    assert.equal(f.type, FrameType.ROUTE);
    readRoute(f.r, { applyRoute: (add, shard, filter) => seen.push([f.peer, add, shard, filter]) });
  }
  assert.deepEqual(seen, [[1, true, 0, 's/+'], [2, true, 0, 's/+'], [1, false, 0, 's/+'], [2, false, 0, 's/+']]);
  assert.equal(local.hasFilter('s/+'), false);
});

test('a publish goes as one frame to each shard with a matching route, and is delivered locally', () => {
  const { peers, routing, delivered, gate } = build(3, 0);
  routing.applyRoute(true, 2, 'a/#');
  routing.publish(msg('a/b', 1), Date.now());
  const frames = peers.take();
  assert.deepEqual(frames.map((f) => [f.peer, f.type]), [[2, FrameType.PUBLISH]]);
  const v = new PublishView().read(frames[0]!.r, 0);
  assert.equal(v.topic, 'a/b');
  assert.equal(v.flags & PubFlag.DELIVER, PubFlag.DELIVER);
  assert.deepEqual(delivered, [{ kind: 'local', topic: 'a/b' }]);
  assert.deepEqual(gate.forwardedTo, [2], 'a QoS 1 forward is told to the commit gate');
  routing.publish(msg('other', 1), Date.now());
  assert.equal(peers.take().length, 0, 'no route, no frame');
  routing.applyRoute(false, 2, 'a/#');
  routing.publish(msg('a/b', 0), Date.now());
  assert.equal(peers.take().length, 0, 'the route went away');
});

test('a retained publish is ordered through retained sync and its commit awaited by the gate', () => {
  const { routing, retained, gate } = build(2, 0);
  routing.publish(msg('r/1', 1, true), Date.now());
  assert.deepEqual(retained, ['r/1']);
  assert.equal(gate.waited, 1);
});

test('a QoS 0 publish still as its bytes is forwarded as those bytes', () => {
  const { peers, routing, delivered } = build(2, 0);
  routing.applyRoute(true, 1, 'v/t');
  const wire = Buffer.from([0x30, 7, 0, 3, 0x76, 0x2f, 0x74, 0x68, 0x69]); // PUBLISH v/t "hi"
  routing.publishView(new PublishView().inbound(wire, 0, wire.length, 7, 'v/t', 'pub', 0), Date.now());
  const [f] = peers.take();
  assert.equal(f!.peer, 1);
  const v = new PublishView().read(f!.r, 0);
  assert.deepEqual([v.topic, v.toMessage().payload.toString()], ['v/t', 'hi']);
  assert.deepEqual(delivered, [{ kind: 'view', topic: 'v/t' }]);
});

test('shared groups: member counts are announced, and each message goes to one shard weighted by members', () => {
  const { peers, routing, delivered } = build(2, 0);
  const s = session('m', fakeConn('m'));
  routing.add(subscribe(s, '$share/g/job', 1, { topicFilter: 'job', group: 'g' }));
  const [share] = peers.take();
  readShare(share!.r, { applyShare: (shard, key, count) => assert.deepEqual([share!.peer, shard, key, count], [1, 0, shareKey('g', 'job'), 1]) });
  routing.applyShare(1, shareKey('g', 'job'), 3); // the peer has three members
  for (let i = 0; i < 8; i++) routing.publish(msg('job', 1), Date.now());
  const forwarded = peers.take().filter((f) => f.type === FrameType.PUBLISH);
  const local = delivered.filter((d) => d.kind === 'to');
  assert.deepEqual([local.length, forwarded.length], [2, 6], 'one in four here, three in four there');
  assert.ok(local.every((d) => d.to === 'm'));
});

test('a shard that restarted loses its routes; with persistent sessions a message for them waits until it is ready, then goes to it', () => {
  const { routing, peers, gate } = build(2, 0);
  routing.applyRoute(true, 1, 'p/#');
  routing.dropShard(1, true);
  routing.publish(msg('p/x', 1), Date.now());
  assert.equal(peers.take().length, 0);
  assert.equal(gate.waited, 1, 'its ack waits for the peer');
  assert.equal(gate.lost, 0);
  routing.applyRoute(true, 1, 'p/#'); // its sessions are back: their routes come before SYNC_DONE
  assert.equal(routing.peerReady(1), true);
  assert.equal(peers.take().length, 1, 'the message that waited goes to the peer');
  routing.publish(msg('p/x', 1), Date.now());
  assert.equal(gate.waited, 1);
  assert.equal(gate.lost, 0);
});

test('a message that matches both the stale routes of a restarted shard and its new ones has its ack withheld', () => {
  const { routing, peers, gate } = build(2, 0);
  routing.applyRoute(true, 1, 'p/#');
  routing.dropShard(1, true);
  routing.applyRoute(true, 1, 'p/x'); // announced by the new incarnation before its sessions are back
  routing.publish(msg('p/x', 1), Date.now());
  assert.equal(peers.take().length, 1);
  assert.equal(gate.lost, 1, 'it reached the peer before the sessions homed there');
});

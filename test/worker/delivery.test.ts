// Delivery (src/worker/routing/delivery.ts) alone, on a local subscription trie it is handed,
// with recording connections and a recording store side: one delivery per session however many
// of its subscriptions match, encode once per fan-out, flow control, queues, the QoS flows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { TopicTrie } from '../../src/shared/topics/trie.ts';
import { Backpressure } from '../../src/worker/net/backpressure.ts';
import { Delivery } from '../../src/worker/routing/delivery.ts';
import { Message } from '../../src/worker/session/message.ts';
import type { Outbound, Session } from '../../src/worker/session/session.ts';
import type { Subscription } from '../../src/worker/session/subscription.ts';
import { context, fakeConn, session, subscribe, type FakeConn } from './parts/fakes.ts';

function build(config = {}) {
  const ctx = context(1, 0, config);
  const local = new TopicTrie<Subscription>();
  const store = {
    enabled: false, storeFull: false, puts: [] as number[], deletes: 0,
    putOutbound(_s: Session, o: Outbound) { this.puts.push(o.packetId); },
    deleteOutbound() { this.deletes++; },
    enqueue(conn: FakeConn, buf: Buffer) { conn.send(buf); },
  };
  const delivery = new Delivery(ctx, local, store as never, new Backpressure(2000, 1 << 20, 1 << 20));
  const add = (s: Session, filter: string, qos: 0 | 1 | 2, extra: Partial<Subscription> = {}): void => {
    const sub = subscribe(s, filter, qos, extra);
    local.add(sub.topicFilter, s.clientId, sub);
  };
  return { delivery, add, store };
}

function decode(buf: Buffer, version = 4): mqttPacket.IPublishPacket {
  const p = mqttPacket.parser({ protocolVersion: version as 4 | 5 });
  let out: mqttPacket.Packet | null = null;
  p.on('packet', (x: mqttPacket.Packet) => { out = x; });
  p.parse(buf);
  return out as unknown as mqttPacket.IPublishPacket;
}

const msg = (topic: string, qos: 0 | 1 | 2, origin = 'pub'): Message => new Message(topic, Buffer.from('body'), qos, false, null, 0, origin);

test('overlapping subscriptions: one PUBLISH per session, at the highest QoS, with every subscription identifier', () => {
  const { delivery, add } = build();
  const c = fakeConn('v5', 5);
  const s = session('v5', c, 5);
  add(s, 'a/+', 0, { subscriptionId: 7 });
  add(s, 'a/#', 1, { subscriptionId: 9 });
  delivery.deliverLocal(msg('a/b', 2), Date.now());
  assert.equal(c.sent.length, 1);
  const p = decode(c.sent[0]!, 5);
  assert.equal(p.qos, 1);
  assert.deepEqual([...(p.properties?.subscriptionIdentifier as number[])].sort(), [7, 9]);
  assert.equal(s.inflight.size, 1);
});

test('encode once: subscribers of one variant get the same bytes but their own packet id', () => {
  const { delivery, add } = build();
  const a = fakeConn('a'), b = fakeConn('b');
  add(session('a', a), 't', 1);
  add(session('b', b), 't', 1);
  delivery.deliverLocal(msg('t', 1), Date.now());
  const [pa, pb] = [decode(a.sent[0]!), decode(b.sent[0]!)];
  assert.deepEqual([pa.topic, pb.topic, pa.payload.toString(), pa.qos], ['t', 't', 'body', 1]);
  assert.ok(pa.messageId! > 0 && pb.messageId! > 0);
});

test('No Local: the publisher does not get its own message', () => {
  const { delivery, add } = build();
  const self = fakeConn('self', 5), other = fakeConn('other', 5);
  add(session('self', self, 5), 'n', 0, { noLocal: true });
  add(session('other', other, 5), 'n', 0, { noLocal: true });
  delivery.deliverLocal(msg('n', 0, 'self'), Date.now());
  assert.deepEqual([self.sent.length, other.sent.length], [0, 1]);
});

test('QoS 1 beyond the in-flight window is queued and pumped as PUBACKs come back', () => {
  const { delivery, add } = build({ maxInflight: 2 });
  const c = fakeConn('w');
  const s = session('w', c);
  add(s, 'q', 1);
  for (let i = 0; i < 5; i++) delivery.deliverLocal(msg('q', 1), Date.now());
  assert.deepEqual([c.sent.length, s.inflight.size, s.queued], [2, 2, 3]);
  const first = decode(c.sent[0]!).messageId!;
  assert.equal(delivery.complete(s, first, 1, 1), true);
  assert.deepEqual([c.sent.length, s.inflight.size, s.queued], [3, 2, 2]);
  assert.equal(delivery.complete(s, first, 1, 1), false, 'an id completes once');
});

test('an offline persistent session queues QoS 1 (not QoS 0) and gets it on resume, in order', () => {
  const { delivery, add } = build();
  const s = session('off', null, 4, 0xffffffff);
  add(s, 'o', 1);
  delivery.deliverLocal(msg('o', 0), Date.now());
  delivery.deliverLocal(msg('o', 1), Date.now());
  delivery.deliverLocal(new Message('o', Buffer.from('second'), 1, false, null, 0, 'pub'), Date.now());
  assert.equal(s.queued, 2);
  const c = fakeConn('off');
  s.conn = c;
  delivery.resume(s);
  assert.deepEqual(c.sent.map((b) => decode(b).payload.toString()), ['body', 'second']);
});

test('QoS 2 out: PUBREC moves the flow to PUBREL state, a resume resends PUBREL, PUBCOMP ends it', () => {
  const { delivery, add } = build();
  const c = fakeConn('q2');
  const s = session('q2', c);
  add(s, 'x', 2);
  delivery.deliverLocal(msg('x', 2), Date.now());
  const id = decode(c.sent[0]!).messageId!;
  assert.equal(delivery.received(s, id, false), true);
  c.sent.length = 0;
  delivery.resume(s);
  assert.deepEqual([...c.sent[0]!], [0x62, 2, id >> 8, id & 0xff], 'PUBREL');
  assert.equal(delivery.complete(s, id, 2, 2), true);
  assert.equal(s.inflight.size, 0);
});

test('a message larger than the client\'s Maximum Packet Size is not sent', () => {
  const { delivery, add } = build();
  const c = fakeConn('small', 5);
  c.clientMaxPacket = 10;
  add(session('small', c, 5), 'big', 0);
  delivery.deliverLocal(new Message('big', Buffer.alloc(100), 0, false, null, 0, 'p'), Date.now());
  assert.equal(c.sent.length, 0);
});

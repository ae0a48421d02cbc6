// Shared subscriptions ($share/{group}/{filter}): each message to exactly one member of a group.
// MQTT 5 4.8.2, also offered to 3.1.1 clients: every group and plain subscriber gets all; an
// in-flight QoS 2 stays with the member it went to; No Local is refused; members spread over 4
// shards. Turning them off (--shared-subscriptions=false): capabilities.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildPublish, assertClosedWith, rawConnector, type ReceivedPublish as Pub, type Version } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, endAll, uid, sleep, type MqttClient } from '../helpers/clients.ts';

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v5 = version === 5;

  test('[MQTT-4.8.2-4] a shared-group member cut off during a QoS 2 delivery gets it again (DUP, same id) when it reconnects', async () => {
    const base = uid('share-q2');
    const group = `$share/${uid('g')}/${base}`;
    const clientId = uid('member');
    const persist = v5 ? { clean: true, properties: { sessionExpiryInterval: 60 } as never } : { clean: false };
    const { c: m1 } = await RawClient.connect(h.port, { version, clientId, ...persist });
    await m1.subscribe(group, 2);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.send(buildPublish({ version, topic: base, payload: 'once', qos: 2, id: 1 }));
      const p = await m1.waitFor('publish') as Pub;
      m1.destroy();
      await sleep(100);
      const again = await RawClient.connect(h.port, { version, clientId, clean: false, properties: (v5 ? { sessionExpiryInterval: 60 } : undefined) as never });
      try {
        const r = await again.c.waitFor('publish') as Pub;
        assert.equal(r.payload.toString(), 'once');
        assert.equal(r.dup, true);
        assert.equal(r.messageId, p.messageId);
        await again.c.ack(r);
        await again.c.expectNothing(200);
      } finally { again.c.destroy(); }
    } finally { m1.destroy(); pub.destroy(); }
  });

  if (version === 5) {
    const raw = rawConnector(h, version, 'v5');

    test('(4.8.2) Shared Subscription: each message to exactly one member of a group, every group and plain subscriber gets all', async () => {
      const topic = uid('share');
      const members: MqttClient[] = [];
      const others: MqttClient[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const m = await connect(h.url, { version });
          members.push(m);
          await subscribe(m, `$share/g1/${topic}`, { qos: 1 });
        }
        const g2 = await connect(h.url, { version });
        const plain = await connect(h.url, { version });
        others.push(g2, plain);
        await subscribe(g2, `$share/g2/${topic}`, { qos: 1 });
        await subscribe(plain, topic, { qos: 1 });
        const mCols = members.map((m) => collect(m));
        const g2Col = collect(g2);
        const plainCol = collect(plain);
        const pub = await connect(h.url, { version });
        others.push(pub);
        const N = 30;
        for (let i = 0; i < N; i++) await publish(pub, topic, `s${i}`, { qos: 1 });
        await g2Col.waitFor(N, 5000);
        await plainCol.waitFor(N, 5000);
        const deadline = Date.now() + 5000;
        while (mCols.reduce((n, c) => n + c.messages.length, 0) < N && Date.now() < deadline) await sleep(50);
        await sleep(300);
        const all = mCols.flatMap((c) => c.payloads()).sort();
        assert.deepEqual(all, Array.from({ length: N }, (_, i) => `s${i}`).sort(), 'group g1: every message exactly once across its members');
        assert.equal(g2Col.messages.length, N, 'group g2 (one member) gets every message');
        assert.equal(plainCol.messages.length, N, 'plain subscriber gets every message');
        for (const m of mCols.flatMap((c) => c.messages)) assert.equal(m.topic, topic, 'delivered with the real topic name');
      } finally { await endAll([...members, ...others]); }
    });

    test('[MQTT-3.8.3-4] No Local on a Shared Subscription is a protocol error', mosquittoDeviates('2.0.11 accepts No Local on a shared subscription'), async () => {
      const { c } = await raw();
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/${uid('nl')}`, qos: 1, nl: true }] } as never);
      const frames = await c.expectClose(5000);
      assertClosedWith(frames, [0x82], 'No Local on $share');
    });
  }
});

// Members on every shard: with --shards 4 the broker places each new connection on the shard with
// the fewest, so the members connected one after another sit on all four.
const SHARDS = 4;

describe(`shared subscriptions across ${SHARDS} shards`, { skip: isMosquitto ? 'Shoal only: shards' : undefined, concurrency: false }, () => {
  const h = useBroker({ shards: SHARDS });

  async function client(version: Version): Promise<RawClient> {
    return (await RawClient.connect(h.port, { version, clientId: uid(`x${version}`) })).c;
  }
  async function sub(c: RawClient, topic: string, qos: number): Promise<void> {
    c.sendPacket({ cmd: 'subscribe', messageId: c.id(), subscriptions: [{ topic, qos }] } as never);
    await c.waitFor('suback');
  }

  for (const version of [5, 4] as const) {
    test(`${version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'}: a shared subscription with members on every shard: each of 40 QoS 1 messages to exactly one member, also after a member left`, async () => {
      const base = uid('share');
      const group = `$share/${uid('g')}/${base}/#`;
      const members: RawClient[] = [];
      for (let i = 0; i < SHARDS; i++) { const c = await client(i % 2 === 0 ? version : 5); await sub(c, group, 1); members.push(c); }
      const pub = await client(version);
      const seen = new Map<string, number>();
      const counts = members.map(() => 0);
      const drain = async (i: number): Promise<void> => {
        for (;;) {
          let p: Pub;
          try { p = await members[i]!.waitFor('publish', 400) as Pub; } catch { return; }
          seen.set(p.payload.toString(), (seen.get(p.payload.toString()) ?? 0) + 1);
          counts[i]!++;
          await members[i]!.ack(p);
        }
      };
      try {
        for (let i = 0; i < 20; i++) pub.send(buildPublish({ version, topic: `${base}/m`, payload: `m${i}`, qos: 1, id: i + 1 }));
        await Promise.all(members.map((_, i) => drain(i)));
        // One member goes away (nothing unacknowledged); the rest take everything after it.
        members[0]!.destroy();
        await sleep(100);
        for (let i = 20; i < 40; i++) pub.send(buildPublish({ version, topic: `${base}/m`, payload: `m${i}`, qos: 1, id: i + 1 }));
        await Promise.all(members.slice(1).map((_, i) => drain(i + 1)));
        for (let i = 0; i < 40; i++) assert.equal(seen.get(`m${i}`), 1, `m${i} delivered once to the group (counts per member ${counts.join(',')})`);
        assert.ok(counts.filter((n) => n > 0).length >= 2, `spread over members: ${counts.join(',')}`);
      } finally { for (const c of [...members, pub]) c.destroy(); }
    });
  }
});

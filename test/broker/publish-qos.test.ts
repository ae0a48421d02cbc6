// PUBLISH with QoS 0, 1 and 2 in both directions: acknowledgement flows, exactly once, delivered QoS.
// The full acknowledgement flows on the wire (raw clients), exactly-once delivery of an inbound
// QoS 2 message resent with DUP, and the delivered QoS being min(subscription QoS, publish QoS).
// With 4 shards, publisher and subscriber connect one after the other and so sit on different
// shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, buildAck, codeOf, describeFrame, hex, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, end, endAll, uid, sleep } from '../helpers/clients.ts';

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  async function rawSubscriber(topic: string, qos: number): Promise<RawClient> {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('sub') });
    const granted = await c.subscribe(topic, qos);
    assert.deepEqual(granted, [qos], 'SUBACK granted QoS');
    return c;
  }

  test('QoS 0: delivered to the subscriber as QoS 0 without a packet id', async () => {
    const topic = uid('q0');
    const sub = await rawSubscriber(topic, 2);
    const pub = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.c.send(buildPublish({ version, topic, payload: 'zero', qos: 0 }));
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.qos, 0);
      assert.equal(p.messageId, undefined);
      assert.equal(p.payload.toString(), 'zero');
      assert.equal(p.raw[0], 0x30, `first byte of QoS 0 PUBLISH: [${hex(p.raw)}]`);
      await pub.c.expectNothing(200); // no ack for QoS 0
    } finally { sub.disconnect(); pub.c.disconnect(); }
  });

  test('[MQTT-4.3.2-2] QoS 1 inbound: PUBACK carries the PUBLISH packet id', async () => {
    const topic = uid('q1in');
    const sub = await rawSubscriber(topic, 1);
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      c.send(buildPublish({ version, topic, payload: 'one', qos: 1, id: 0x1234 }));
      const ack = await c.expectPacket('puback');
      assert.equal((ack as Pub).messageId, 0x1234, describeFrame(ack));
      if (version === 4) assert.equal(hex(ack.raw), '40 02 12 34');
      else assert.ok([0x00, 0x10].includes(codeOf(ack) ?? 0), `PUBACK reason ${describeFrame(ack)}`);
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'one');
      await sub.ack(p);
    } finally { sub.disconnect(); c.disconnect(); }
  });

  test('[MQTT-2.3.1-1] [MQTT-4.3.2-1] QoS 1 outbound: non-zero packet id, no resend once PUBACKed', async () => {
    const topic = uid('q1out');
    const sub = await rawSubscriber(topic, 1);
    const pub = await connect(h.url, { version });
    try {
      await publish(pub, topic, 'for sub', { qos: 1 });
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.qos, 1);
      assert.equal(p.dup, false, 'first delivery has DUP 0');
      assert.ok(p.messageId && p.messageId > 0, `packet id must be non-zero: ${describeFrame(p)}`);
      assert.equal(p.raw[0]! & 0x06, 0x02, 'QoS bits in the fixed header');
      sub.send(buildAck(0x40, p.messageId!));
      await sub.expectNothing(400);
    } finally { sub.disconnect(); await end(pub); }
  });

  test('[MQTT-4.3.3-1] QoS 2 inbound: PUBREC, then PUBREL (flags 0010) gets PUBCOMP, same packet id', async () => {
    const topic = uid('q2in');
    const sub = await rawSubscriber(topic, 2);
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      c.send(buildPublish({ version, topic, payload: 'two', qos: 2, id: 10 }));
      const rec = await c.expectPacket('pubrec');
      assert.equal((rec as Pub).messageId, 10);
      if (version === 4) assert.equal(hex(rec.raw), '50 02 00 0a');
      else assert.ok((codeOf(rec) ?? 0) < 0x80, `PUBREC reason: ${describeFrame(rec)}`);
      c.send(buildAck(0x62, 10));
      const comp = await c.expectPacket('pubcomp');
      assert.equal((comp as Pub).messageId, 10);
      if (version === 4) assert.equal(hex(comp.raw), '70 02 00 0a');
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'two');
      assert.equal(p.qos, 2);
      await sub.ack(p);
    } finally { sub.disconnect(); c.disconnect(); }
  });

  test('[MQTT-4.3.3-1] [MQTT-3.6.1-1] QoS 2 outbound: PUBLISH → PUBREC → PUBREL (first byte 0x62) → PUBCOMP', async () => {
    const topic = uid('q2out');
    const sub = await rawSubscriber(topic, 2);
    const pub = await connect(h.url, { version });
    try {
      await publish(pub, topic, 'exactly once', { qos: 2 });
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.qos, 2);
      assert.ok(p.messageId && p.messageId > 0);
      assert.equal(p.raw[0]! & 0x06, 0x04, 'QoS bits in the fixed header');
      sub.send(buildAck(0x50, p.messageId!));
      const rel = await sub.expectPacket('pubrel');
      assert.equal(rel.raw[0], 0x62, `PUBREL first byte: [${hex(rel.raw)}]`);
      assert.equal((rel as Pub).messageId, p.messageId);
      sub.send(buildAck(0x70, p.messageId!));
      await sub.expectNothing(400);
    } finally { sub.disconnect(); await end(pub); }
  });

  const dupId = version === 5 ? '[MQTT-4.3.3-10] [MQTT-4.3.3-12]' : '[MQTT-4.3.3-2]';

  if (version === 4) {
    // 3.1.1 lets a sender retransmit on the same connection; v5 forbids it ([MQTT-4.4.0-1]).
    test(`${dupId} inbound QoS 2 resent with DUP on the same connection before PUBREL is delivered exactly once`, async () => {
      const topic = uid('q2dup');
      const subscriber = await connect(h.url, { version });
      const col = collect(subscriber);
      await subscribe(subscriber, topic, { qos: 2 });
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
      try {
        c.send(buildPublish({ version, topic, payload: 'once', qos: 2, id: 77 }));
        assert.equal((await c.expectPacket('pubrec') as Pub).messageId, 77);
        c.send(buildPublish({ version, topic, payload: 'once', qos: 2, id: 77, dup: true }));
        assert.equal((await c.expectPacket('pubrec') as Pub).messageId, 77, 'the resent PUBLISH is acknowledged again');
        c.send(buildAck(0x62, 77));
        assert.equal((await c.expectPacket('pubcomp') as Pub).messageId, 77);
        await col.waitFor(1, 3000);
        await sleep(500);
        assert.deepEqual(col.payloads(), ['once'], 'delivered exactly once');
        // After PUBCOMP the id is free again: a new message with id 77 is a new message.
        c.send(buildPublish({ version, topic, payload: 'again', qos: 2, id: 77 }));
        await c.expectPacket('pubrec');
        c.send(buildAck(0x62, 77));
        await c.expectPacket('pubcomp');
        await col.waitFor(2, 3000);
        await sleep(200);
        assert.deepEqual(col.payloads(), ['once', 'again']);
      } finally { c.disconnect(); await end(subscriber); }
    });
  }

  test(`${dupId} [MQTT-4.4.0-1] inbound QoS 2 resent with DUP after reconnecting (session kept) is delivered exactly once`, async () => {
    const topic = uid('q2dupre');
    const subscriber = await connect(h.url, { version });
    const col = collect(subscriber);
    await subscribe(subscriber, topic, { qos: 2 });
    const id = uid('pubre');
    const persistent = { version, clientId: id, clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) };
    const first = await RawClient.connect(h.port, persistent);
    first.c.send(buildPublish({ version, topic, payload: 'once', qos: 2, id: 78 }));
    assert.equal((await first.c.expectPacket('pubrec') as Pub).messageId, 78);
    first.c.destroy(); // gone before PUBREL
    const second = await RawClient.connect(h.port, persistent);
    const c = second.c;
    try {
      assert.equal(second.connack.sessionPresent, true, 'session present after reconnect with clean session 0');
      c.send(buildPublish({ version, topic, payload: 'once', qos: 2, id: 78, dup: true }));
      assert.equal((await c.expectPacket('pubrec') as Pub).messageId, 78);
      c.send(buildAck(0x62, 78));
      assert.equal((await c.expectPacket('pubcomp') as Pub).messageId, 78);
      await col.waitFor(1, 3000);
      await sleep(500);
      assert.deepEqual(col.payloads(), ['once'], 'delivered exactly once');
    } finally {
      c.sendPacket(version === 5 ? { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : { cmd: 'disconnect' });
      c.socket.end();
      await end(subscriber);
    }
  });

  test('[MQTT-3.8.4-6] delivered QoS = min(subscription QoS, publish QoS), all 9 combinations', async () => {
    const topic = uid('minqos');
    const subs = [] as RawClient[];
    try {
      for (const q of [0, 1, 2]) subs.push(await rawSubscriber(topic, q));
      const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
      try {
        for (const q of [0, 1, 2] as const) {
          pub.send(buildPublish({ version, topic, payload: `pub${q}`, qos: q, id: q ? 100 + q : undefined }));
          if (q === 1) await pub.expectPacket('puback');
          if (q === 2) { await pub.expectPacket('pubrec'); pub.send(buildAck(0x62, 102)); await pub.expectPacket('pubcomp'); }
        }
      } finally { pub.disconnect(); }
      for (const [subQos, c] of subs.entries()) {
        const got: Array<[string, number]> = [];
        for (let i = 0; i < 3; i++) {
          const p = await c.expectPacket('publish') as Pub;
          got.push([p.payload.toString(), p.qos]);
          await c.ack(p);
        }
        got.sort();
        assert.deepEqual(got, [0, 1, 2].map((pq) => [`pub${pq}`, Math.min(pq, subQos)]), `subscriber at QoS ${subQos}`);
      }
    } finally { for (const c of subs) c.disconnect(); }
  });

  test('payload bytes are delivered unchanged: all byte values, empty, and 256 KiB', async () => {
    const topic = uid('bytes');
    const sub = await connect(h.url, { version });
    const pub = await connect(h.url, { version });
    try {
      const col = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(256 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      await publish(pub, topic, all, { qos: 1 });
      await publish(pub, topic, Buffer.alloc(0), { qos: 1 });
      await publish(pub, topic, big, { qos: 1 }, 10_000);
      const got = await col.waitFor(3, 10_000);
      assert.ok(got[0]!.payload.equals(all), 'all byte values');
      assert.equal(got[1]!.payload.length, 0, 'empty payload');
      assert.ok(got[2]!.payload.equals(big), `256 KiB payload (got ${got[2]!.payload.length} bytes)`);
    } finally { await endAll([sub, pub]); }
  });

  test('[MQTT-4.6.0-2] [MQTT-4.6.0-6] QoS 1 messages from one publisher arrive in order (500)', async () => {
    const topic = uid('order');
    const sub = await connect(h.url, { version });
    const pub = await connect(h.url, { version });
    try {
      const col = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const n = 500;
      await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, topic, String(i), { qos: 1 }, 15_000)));
      await col.waitFor(n, 15_000);
      await sleep(200);
      assert.deepEqual(col.payloads().map(Number), Array.from({ length: n }, (_, i) => i));
    } finally { await endAll([sub, pub]); }
  });

  test('[MQTT-3.3.1-3] DUP of an incoming PUBLISH is not propagated: subscribers get DUP 0', async () => {
    const topic = uid('dupin');
    const sub = await rawSubscriber(topic, 1);
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      c.send(buildPublish({ version, topic, payload: 'first try flagged dup', qos: 1, id: 31, dup: true }));
      await c.expectPacket('puback');
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.dup, false, `outgoing DUP must be set independently of the incoming one: ${describeFrame(p)}`);
      await sub.ack(p);
    } finally { sub.disconnect(); c.disconnect(); }
  });

  test('[MQTT-1.5.3-3] multi-byte UTF-8 topic names and U+FEFF are preserved and matched exactly', async () => {
    const base = uid('utf');
    const topic = `${base}/caf\u00e9/\u20ac \u{1F41F}/\uFEFFbom`;
    const sub = await rawSubscriber(topic, 1);
    const other = await rawSubscriber(`${base}/caf\u00e9/\u20ac \u{1F41F}/bom`, 1); // same without the BOM
    const pub = await connect(h.url, { version });
    try {
      await publish(pub, topic, 'utf8', { qos: 1 });
      const p = await sub.expectPacket('publish') as Pub;
      assert.equal(p.topic, topic);
      assert.ok(p.raw.includes(Buffer.from([0xef, 0xbb, 0xbf])), 'U+FEFF bytes kept on the wire');
      await sub.ack(p);
      await other.expectNothing(300);
    } finally { sub.disconnect(); other.disconnect(); await end(pub); }
  });

  test('a client subscribed to a topic receives its own publication (no No Local by default)', async () => {
    const topic = uid('self');
    const c = await connect(h.url, { version });
    try {
      const col = collect(c);
      await subscribe(c, topic, { qos: 1 });
      await publish(c, topic, 'me', { qos: 1 });
      const [m] = await col.waitFor(1, 3000);
      assert.equal(m!.payload.toString(), 'me');
    } finally { await end(c); }
  });
});

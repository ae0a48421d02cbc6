// Retained messages: stored, replaced, cleared, and sent to new subscribers.
// Stored, replaced, cleared by an empty payload, sent on subscribe with RETAIN=1, normal
// deliveries with RETAIN=0 (3.1.1; v5 Retain As Published), QoS min'd, re-sent on re-subscribe,
// v5 Retain Handling. With 4 shards the publisher, the clearer and the subscriber are separate
// connections made one after another, so on different shards. Expiry: message-expiry.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, describeFrame, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, end, endAll, uid, sleep } from '../helpers/clients.ts';

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v4 = version === 4;
  // Statement ids differ between 3.1.1 and 5.0.
  const ID = {
    sentOnSubscribe: v4 ? '[MQTT-3.3.1-6] [MQTT-3.3.1-8]' : '[MQTT-3.3.1-5] [MQTT-3.3.1-9]',
    clear: v4 ? '[MQTT-3.3.1-10] [MQTT-3.3.1-11]' : '[MQTT-3.3.1-6] [MQTT-3.3.1-7]',
    qos0: v4 ? '[MQTT-3.3.1-7]' : '[MQTT-3.3.1-5]',
    notRetained: v4 ? '[MQTT-3.3.1-12]' : '[MQTT-3.3.1-8]',
  };

  /** Connect a raw client, subscribe, and return it. */
  async function rawSub(filter: string, qos = 1, opts: { rap?: boolean; rh?: number } = {}): Promise<RawClient> {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('rs') });
    const granted = await c.subscribe([{ topic: filter, qos, ...(version === 5 ? opts : {}) }]);
    assert.deepEqual(granted, [qos]);
    return c;
  }

  async function setRetained(topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 1): Promise<void> {
    const p = await connect(h.url, { version });
    try { await publish(p, topic, payload, { qos, retain: true }); } finally { await end(p); }
  }

  test(`${ID.sentOnSubscribe} retained message is sent to a new subscriber with RETAIN=1`, async () => {
    const topic = uid('ret');
    await setRetained(topic, 'kept');
    const c = await rawSub(topic, 1);
    try {
      const p = await c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'kept');
      assert.equal(p.retain, true, `RETAIN flag: ${describeFrame(p)}`);
      assert.equal(p.raw[0]! & 0x01, 0x01);
      await c.ack(p);
      await c.expectNothing(300);
    } finally { c.disconnect(); }
  });

  if (version === 4) {
    test('[MQTT-3.3.1-9] delivery to an existing subscriber has RETAIN=0', async () => {
      const topic = uid('live');
      const c = await rawSub(topic, 1);
      try {
        await setRetained(topic, 'live');
        const p = await c.expectPacket('publish') as Pub;
        assert.equal(p.payload.toString(), 'live');
        assert.equal(p.retain, false, `RETAIN must be 0 on normal delivery: ${describeFrame(p)}`);
        await c.ack(p);
      } finally { c.disconnect(); }
      await setRetained(topic, '');
    });
  } else {
    test('[MQTT-3.3.1-12] Retain As Published 0: existing subscriber gets RETAIN=0', async () => {
      const topic = uid('rap0');
      const c = await rawSub(topic, 1, { rap: false });
      try {
        await setRetained(topic, 'live');
        const p = await c.expectPacket('publish') as Pub;
        assert.equal(p.retain, false, describeFrame(p));
        await c.ack(p);
      } finally { c.disconnect(); }
      await setRetained(topic, '');
    });

    test('[MQTT-3.3.1-13] Retain As Published 1: existing subscriber gets RETAIN as published', async () => {
      const topic = uid('rap1');
      const c = await rawSub(topic, 1, { rap: true });
      const pub = await connect(h.url, { version });
      try {
        await publish(pub, topic, 'r1', { qos: 1, retain: true });
        await publish(pub, topic, 'r0', { qos: 1, retain: false });
        const a = await c.expectPacket('publish') as Pub;
        await c.ack(a);
        const b = await c.expectPacket('publish') as Pub;
        await c.ack(b);
        assert.deepEqual([a.payload.toString(), a.retain, b.payload.toString(), b.retain], ['r1', true, 'r0', false]);
      } finally { c.disconnect(); await publish(pub, topic, '', { qos: 1, retain: true }); await end(pub); }
    });
  }

  test('[MQTT-3.3.1-5] a new retained message replaces the previous one', async () => {
    const topic = uid('repl');
    await setRetained(topic, 'first');
    await setRetained(topic, 'second');
    const c = await rawSub(topic, 1);
    try {
      const p = await c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'second');
      await c.ack(p);
      await c.expectNothing(400);
    } finally { c.disconnect(); }
    await setRetained(topic, '');
  });

  test(`${ID.clear} empty retained payload clears the topic and still reaches current subscribers`, async () => {
    const topic = uid('clear');
    await setRetained(topic, 'doomed');
    const existing = await rawSub(topic, 1);
    try {
      const r = await existing.expectPacket('publish') as Pub; // the retained one
      await existing.ack(r);
      await setRetained(topic, ''); // from another connection (another shard with 4)
      const e = await existing.expectPacket('publish') as Pub;
      assert.equal(e.payload.length, 0, `the zero-byte retained PUBLISH is delivered as normal: ${describeFrame(e)}`);
      await existing.ack(e);
    } finally { existing.disconnect(); }
    const fresh = await rawSub(topic, 1);
    try {
      await fresh.expectNothing(600);
    } finally { fresh.disconnect(); }
  });

  test(`${ID.qos0} a QoS 0 retained message is stored and replaces a QoS 1 one`, async () => {
    const topic = uid('q0r');
    await setRetained(topic, 'q1', 1);
    await setRetained(topic, 'q0', 0);
    await sleep(100); // QoS 0 has no ack to wait for
    const c = await rawSub(topic, 2);
    try {
      const p = await c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'q0');
      assert.equal(p.qos, 0);
      await c.expectNothing(300);
    } finally { c.disconnect(); }
    await setRetained(topic, '');
  });

  test(`${ID.notRetained} a PUBLISH without RETAIN neither replaces nor clears the retained message`, async () => {
    const topic = uid('keepret');
    await setRetained(topic, 'kept');
    const p = await connect(h.url, { version });
    try {
      await publish(p, topic, 'not retained', { qos: 1, retain: false });
      await publish(p, topic, '', { qos: 1, retain: false });
    } finally { await end(p); }
    const c = await rawSub(topic, 1);
    try {
      const r = await c.expectPacket('publish') as Pub;
      assert.equal(r.payload.toString(), 'kept');
      await c.ack(r);
      await c.expectNothing(300);
    } finally { c.disconnect(); }
    await setRetained(topic, '');
  });

  test('[MQTT-3.8.4-6] retained messages on a wildcard subscribe: all matching, QoS = min(sub, msg), none other', async () => {
    const base = uid('wret');
    await setRetained(`${base}/a`, 'a0', 0);
    await setRetained(`${base}/b`, 'b1', 1);
    await setRetained(`${base}/c/d`, 'c2', 2);
    await setRetained(`${base}x/a`, 'other', 1);
    await sleep(100);
    const c = await rawSub(`${base}/#`, 1);
    try {
      const got: Array<[string, string, number, boolean]> = [];
      for (let i = 0; i < 3; i++) {
        const p = await c.expectPacket('publish') as Pub;
        got.push([p.topic, p.payload.toString(), p.qos, p.retain]);
        await c.ack(p);
      }
      await c.expectNothing(400);
      got.sort();
      assert.deepEqual(got, [[`${base}/a`, 'a0', 0, true], [`${base}/b`, 'b1', 1, true], [`${base}/c/d`, 'c2', 1, true]]);
    } finally { c.disconnect(); }
    for (const t of [`${base}/a`, `${base}/b`, `${base}/c/d`, `${base}x/a`]) await setRetained(t, '');
  });

  test('[MQTT-3.8.4-3] subscribing again re-sends the retained message', async () => {
    const topic = uid('resend');
    await setRetained(topic, 'again');
    const c = await rawSub(topic, 1);
    try {
      const a = await c.expectPacket('publish') as Pub;
      await c.ack(a);
      await c.subscribe(topic, 1);
      const b = await c.expectPacket('publish') as Pub;
      assert.equal(b.payload.toString(), 'again');
      assert.equal(b.retain, true);
      await c.ack(b);
    } finally { c.disconnect(); }
    await setRetained(topic, '');
  });

  test('a retained message reaches new subscribers on four consecutive connections (every shard with 4)', async () => {
    const topic = uid('many');
    await setRetained(topic, 'for all');
    const subs = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = await connect(h.url, { version });
        subs.push(s);
        const col = collect(s);
        await subscribe(s, topic, { qos: 1 });
        const [m] = await col.waitFor(1, 3000);
        assert.equal(m!.payload.toString(), 'for all', `subscriber ${i}`);
        assert.equal(m!.packet.retain, true, `subscriber ${i} RETAIN flag`);
      }
    } finally { await endAll(subs); }
    await setRetained(topic, '');
  });

  test('1000 retained messages under one prefix: a wildcard subscriber gets each exactly once', async () => {
    const base = uid('bulk');
    const n = 1000;
    const p = await connect(h.url, { version });
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => publish(p, `${base}/${i}`, `v${i}`, { qos: 1, retain: true }, 15_000)));
      const s = await connect(h.url, { version });
      try {
        const col = collect(s);
        await subscribe(s, `${base}/#`, { qos: 1 });
        await col.waitFor(n, 15_000);
        await sleep(300);
        const topics = col.topics();
        assert.equal(new Set(topics).size, n, 'distinct retained topics delivered');
        assert.equal(topics.length, n, 'no duplicates');
        assert.ok(col.messages.every((m) => m.packet.retain && m.payload.toString() === `v${m.topic.slice(base.length + 1)}`), 'payloads and RETAIN flags');
      } finally { await end(s); }
      await Promise.all(Array.from({ length: n }, (_, i) => publish(p, `${base}/${i}`, '', { qos: 1, retain: true }, 15_000)));
    } finally { await end(p); }
  });

  if (version === 5) {
    test('[MQTT-3.3.1-10] Retain Handling 1: retained sent only when the subscription is new', async () => {
      const topic = uid('rh1');
      await setRetained(topic, 'rh1');
      const c = await rawSub(topic, 1, { rh: 1 });
      try {
        const a = await c.expectPacket('publish') as Pub;
        assert.equal(a.payload.toString(), 'rh1');
        await c.ack(a);
        await c.subscribe([{ topic, qos: 1, rh: 1 }]);
        await c.expectNothing(500);
      } finally { c.disconnect(); }
      await setRetained(topic, '');
    });

    test('[MQTT-3.3.1-11] Retain Handling 2: retained messages not sent on subscribe', async () => {
      const topic = uid('rh2');
      await setRetained(topic, 'rh2');
      const c = await rawSub(topic, 1, { rh: 2 });
      try {
        await c.expectNothing(500);
        c.send(buildPublish({ version, topic, payload: 'live', qos: 0 }));
        const p = await c.expectPacket('publish') as Pub;
        assert.equal(p.payload.toString(), 'live', 'live messages still flow');
      } finally { c.disconnect(); }
      await setRetained(topic, '');
    });
  }
});

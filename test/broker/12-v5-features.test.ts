// MQTT 5.0 features seen from outside: PUBLISH properties forwarded unchanged (user property
// order included), 5.0 ↔ 3.1.1 interworking, Topic Aliases, Receive Maximum both ways, the
// client's Maximum Packet Size, Message Expiry, Shared Subscriptions, Session Expiry on
// DISCONNECT, CONNECT property validation. Runs with 1 and 4 shards (publishers and
// subscribers connect one after another, so they sit on different shards with 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import {
  RawClient, buildPublish, buildConnect, buildAck, prop, publishProperties, codeOf, describeFrame, hex,
  type Received, type Frame, type ReceivedPublish as Pub,
} from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, end, endAll, uid, sleep, type MqttClient } from '../helpers/clients.ts';

/** Only a DISCONNECT with one of `reasons` may precede the close. */
function assertClosedWith(frames: Frame[], reasons: number[], what: string): void {
  for (const f of frames) {
    assert.equal(f.cmd, 'disconnect', `${what}: unexpected ${describeFrame(f)}`);
    assert.ok(reasons.includes(codeOf(f) ?? 0), `${what}: DISCONNECT reason 0x${(codeOf(f) ?? 0).toString(16)}, expected ${reasons.map((r) => '0x' + r.toString(16)).join('/')}`);
  }
}

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });

  async function raw(props: Record<string, unknown> = {}, clientId = uid('v5')): Promise<{ c: RawClient; connack: Received }> {
    const r = await RawClient.connect(h.port, { version, clientId, properties: props as never });
    return { c: r.c, connack: r.connack as unknown as Received };
  }

  test('[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] PUBLISH properties are forwarded unchanged, user properties in order', async () => {
    const topic = uid('props');
    const { c: sub } = await raw();
    await sub.subscribe(topic, 1);
    const { c: pub } = await raw();
    try {
      const props = Buffer.concat([
        prop.byte(0x01, 1),                          // Payload Format Indicator: UTF-8
        prop.str(0x03, 'text/plain; charset=utf-8'), // Content Type
        prop.str(0x08, `${topic}/reply`),             // Response Topic
        prop.str(0x09, Buffer.from([0, 1, 2, 0xff])), // Correlation Data
        prop.pair(0x26, 'a', '1'),
        prop.pair(0x26, 'b', '2'),
        prop.pair(0x26, 'a', '3'),                   // repeated key, order matters
      ]);
      pub.send(buildPublish({ version, topic, payload: 'héllo', qos: 1, id: 9, properties: props }));
      await pub.expectPacket('puback');
      const p = await sub.expectPacket('publish') as Pub;
      await sub.ack(p);
      const got = publishProperties(p.raw).filter(([id]) => id !== 0x0b && id !== 0x23); // minus Subscription Identifier / Topic Alias
      assert.deepEqual(got, [
        [0x01, 1],
        [0x03, 'text/plain; charset=utf-8'],
        [0x08, `${topic}/reply`],
        [0x09, Buffer.from([0, 1, 2, 0xff])],
        [0x26, ['a', '1']],
        [0x26, ['b', '2']],
        [0x26, ['a', '3']],
      ], `forwarded properties [${hex(p.raw)}]`);
      assert.equal(p.payload.toString(), 'héllo');
    } finally { sub.disconnect(); pub.disconnect(); }
  });

  test('5.0 publisher → 3.1.1 subscriber: a valid 3.1.1 PUBLISH without properties; 3.1.1 publisher → 5.0 subscriber', async () => {
    const topic = uid('x-ver');
    const { c: old } = await RawClient.connect(h.port, { version: 4, clientId: uid('v4') });
    await old.subscribe(topic, 1);
    const { c: neu } = await raw();
    await neu.subscribe(`${topic}/back`, 1);
    try {
      neu.send(buildPublish({ version, topic, payload: 'from 5', qos: 1, id: 3, properties: Buffer.concat([prop.pair(0x26, 'k', 'v'), prop.u32(0x02, 60)]) }));
      await neu.waitFor('puback');
      const p = await old.expectPacket('publish') as Pub;
      // 3.1.1 layout: topic, packet id, payload — nothing in between.
      const expectedLen = 2 + topic.length + 2 + 'from 5'.length;
      assert.equal(p.raw.length - 2, expectedLen, `3.1.1 PUBLISH must not carry properties: [${hex(p.raw)}]`);
      assert.equal(p.payload.toString(), 'from 5');
      await old.ack(p);
      old.send(buildPublish({ version: 4, topic: `${topic}/back`, payload: 'from 3.1.1', qos: 1, id: 4 }));
      await old.expectPacket('puback');
      const q = await neu.waitFor('publish') as Pub;
      assert.equal(q.payload.toString(), 'from 3.1.1');
      await neu.ack(q);
    } finally { old.disconnect(); neu.disconnect(); }
  });

  test('[MQTT-3.3.2-12] Topic Alias from the client: set with a topic, then used with an empty topic, then remapped', async () => {
    const base = uid('alias');
    const w = await connect(h.url, { version });
    const { c } = await raw();
    try {
      const col = collect(w);
      await subscribe(w, `${base}/#`, { qos: 1 });
      c.send(buildPublish({ version, topic: `${base}/one`, payload: 'a', qos: 1, id: 1, properties: prop.u16(0x23, 1) }));
      c.send(buildPublish({ version, topic: '', payload: 'b', qos: 1, id: 2, properties: prop.u16(0x23, 1) }));
      c.send(buildPublish({ version, topic: `${base}/two`, payload: 'c', qos: 1, id: 3, properties: prop.u16(0x23, 1) }));
      c.send(buildPublish({ version, topic: '', payload: 'd', qos: 1, id: 4, properties: prop.u16(0x23, 1) }));
      for (let i = 0; i < 4; i++) await c.waitFor('puback');
      await col.waitFor(4, 3000);
      assert.deepEqual(col.messages.map((m) => `${m.topic}=${m.payload}`), [`${base}/one=a`, `${base}/one=b`, `${base}/two=c`, `${base}/two=d`]);
      assert.ok(!c.closed);
    } finally { c.disconnect(); await end(w); }
  });

  test('[MQTT-3.3.2-8] Topic Alias 0 is an error: DISCONNECT (0x94 Topic Alias invalid, 0x82 or 0x81) and close', async () => {
    const { c } = await raw();
    c.send(buildPublish({ version, topic: uid('a0'), payload: 'x', properties: prop.u16(0x23, 0) }));
    assertClosedWith(await c.expectClose(5000), [0x94, 0x82, 0x81], 'alias 0');
  });

  test('[MQTT-3.3.2-9] Topic Alias above the server\'s Topic Alias Maximum: DISCONNECT 0x94 and close', async () => {
    const { c, connack } = await raw();
    const max = ((connack as unknown as { properties?: { topicAliasMaximum?: number } }).properties?.topicAliasMaximum) ?? 0;
    c.send(buildPublish({ version, topic: uid('amax'), payload: 'x', properties: prop.u16(0x23, max + 1) }));
    assertClosedWith(await c.expectClose(5000), [0x94], `alias ${max + 1} > Topic Alias Maximum ${max}`);
  });

  test('empty topic with an alias never set is a protocol error (DISCONNECT 0x82) and is not routed', async () => {
    const { c } = await raw();
    c.send(buildPublish({ version, topic: '', payload: 'x', properties: prop.u16(0x23, 1) }));
    assertClosedWith(await c.expectClose(5000), [0x82, 0x94], 'unknown alias');
  });

  test('[MQTT-3.3.2-11] no Topic Alias is sent to a client whose CONNECT had no Topic Alias Maximum', async () => {
    const topic = uid('noalias');
    const { c } = await raw();
    await c.subscribe(topic, 0);
    const p = await connect(h.url, { version });
    try {
      for (let i = 0; i < 5; i++) await publish(p, topic, `m${i}`, { qos: 0 });
      for (let i = 0; i < 5; i++) {
        const m = await c.expectPacket('publish') as Pub;
        assert.equal(m.topic, topic, `topic name present on every PUBLISH: ${describeFrame(m)}`);
        assert.ok(!publishProperties(m.raw).some(([id]) => id === 0x23), `Topic Alias sent: [${hex(m.raw)}]`);
      }
    } finally { c.disconnect(); await end(p); }
  });

  test('[MQTT-3.3.4-9] client Receive Maximum 2: at most 2 unacknowledged QoS 1 PUBLISHes, the next after each PUBACK, all in order',
    mosquittoDeviates('2.0.11 sends a third unacknowledged QoS 1 PUBLISH to a client with Receive Maximum 2'), async () => {
    const topic = uid('rmax');
    const { c } = await raw({ receiveMaximum: 2 });
    await c.subscribe(topic, 1);
    const p = await connect(h.url, { version });
    try {
      for (let i = 0; i < 8; i++) await publish(p, topic, `m${i}`, { qos: 1 });
      const outstanding = [await c.expectPacket('publish') as Pub, await c.expectPacket('publish') as Pub];
      const got = outstanding.map((m) => m.payload.toString());
      while (got.length < 8) {
        await c.expectNothing(250); // quota exhausted: nothing until a PUBACK
        c.send(buildAck(0x40, outstanding.shift()!.messageId!));
        const m = await c.expectPacket('publish', 3000) as Pub;
        got.push(m.payload.toString());
        outstanding.push(m);
      }
      for (const m of outstanding) c.send(buildAck(0x40, m.messageId!));
      assert.deepEqual(got, Array.from({ length: 8 }, (_, i) => `m${i}`));
    } finally { c.disconnect(); await end(p); }
  });

  test('[MQTT-3.3.4-7] more unacknowledged inbound QoS 2 PUBLISHes than the server\'s Receive Maximum: DISCONNECT 0x93 (3.2.2.3.3)',
    mosquittoDeviates('2.0.11 accepts (PUBRECs) a QoS 2 PUBLISH beyond its advertised Receive Maximum of 20'), async () => {
    const { c, connack } = await raw();
    const rm = ((connack as unknown as { properties?: { receiveMaximum?: number } }).properties?.receiveMaximum) ?? 65535;
    if (rm > 5000) return; // not practical to exceed (65535 unless advertised)
    const topic = uid('srmax');
    const burst: Buffer[] = [];
    for (let i = 1; i <= rm + 1; i++) burst.push(buildPublish({ version, topic, payload: 'x', qos: 2, id: i }));
    c.send(Buffer.concat(burst));
    const frames = await c.expectClose(10_000);
    const recs = frames.filter((f) => f.cmd === 'pubrec').length;
    const disc = frames.filter((f) => f.cmd === 'disconnect');
    assert.ok(recs <= rm, `${recs} PUBRECs for a Receive Maximum of ${rm}`);
    assert.equal(disc.length, 1, `expected DISCONNECT 0x93, got: ${c.history(4)}`);
    assert.equal(codeOf(disc[0]!), 0x93);
  });

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] client Maximum Packet Size: a larger message is not sent (dropped), the connection stays', async () => {
    const topic = uid('cmax');
    const { c } = await raw({ maximumPacketSize: 200 });
    await c.subscribe(topic, 1);
    const p = await connect(h.url, { version });
    try {
      await publish(p, topic, 'small-1', { qos: 1 });
      await publish(p, topic, Buffer.alloc(500, 0x41), { qos: 1 });
      await publish(p, topic, 'small-2', { qos: 1 });
      const got: string[] = [];
      for (let i = 0; i < 2; i++) {
        const m = await c.expectPacket('publish') as Pub;
        assert.ok(m.raw.length <= 200, `packet of ${m.raw.length} bytes sent to a client with Maximum Packet Size 200`);
        got.push(m.payload.toString());
        await c.ack(m);
      }
      assert.deepEqual(got, ['small-1', 'small-2']);
      await c.expectNothing(300);
      assert.ok(!c.closed);
    } finally { c.disconnect(); await end(p); }
  });

  test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] Message Expiry: expired messages are not delivered to a returning session; others carry the remaining lifetime', async () => {
    const id = uid('exp');
    const topic = uid('exp-t');
    const first = await RawClient.connect(h.port, { version, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    await first.c.subscribe(topic, 1);
    first.c.disconnect();
    await first.c.expectClose(3000);
    const p = await connect(h.url, { version });
    try {
      await publish(p, topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
      await publish(p, topic, 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
      await sleep(2200);
      const back = await RawClient.connect(h.port, { version, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
      try {
        assert.equal(back.connack.sessionPresent, true);
        const m = await back.c.expectPacket('publish') as Pub;
        assert.equal(m.payload.toString(), 'long', 'the expired message was delivered');
        const exp = publishProperties(m.raw).find(([pid]) => pid === 0x02)?.[1] as number | undefined;
        assert.ok(exp !== undefined && exp <= 58 && exp >= 50, `Message Expiry Interval forwarded as the remaining time (≈57 s), got ${exp}`);
        await back.c.ack(m);
        await back.c.expectNothing(300);
      } finally { back.c.disconnect(); }
    } finally { await end(p); }
  });

  test('[MQTT-3.3.2-5] Message Expiry on a retained message: not sent to subscribers after it expired', async () => {
    const topic = uid('exp-r');
    const p = await connect(h.url, { version });
    try {
      await publish(p, topic, 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await sleep(2200);
      const { c } = await raw();
      try {
        await c.subscribe(topic, 1);
        await c.expectNothing(500);
      } finally { c.disconnect(); }
    } finally { await end(p); }
  });

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

  test('(3.14.2.2.2) DISCONNECT setting Session Expiry after CONNECT had 0 is a protocol error; the session is not kept', async () => {
    const id = uid('sexp');
    const { c } = await RawClient.connect(h.port, { version, clientId: id, clean: true });
    await c.subscribe(uid('sexp-t'), 1);
    c.sendPacket({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    await c.expectClose(3000);
    const back = await RawClient.connect(h.port, { version, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
    try {
      assert.equal(back.connack.sessionPresent, false, 'session kept although Session Expiry was 0 at CONNECT');
    } finally { back.c.disconnect(); }
  });

  test('(3.1.2.11.3, 3.1.2.11.4) CONNECT with Receive Maximum 0 or Maximum Packet Size 0 is a protocol error (error CONNACK or close)', async () => {
    for (const props of [prop.u16(0x21, 0), prop.u32(0x27, 0)]) {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: uid('badprop'), properties: props }));
      const frames = await c.expectClose(5000);
      for (const f of frames) {
        assert.equal(f.cmd, 'connack', `unexpected ${describeFrame(f)}`);
        assert.ok((codeOf(f) ?? 0) >= 0x80, `CONNECT accepted with property [${hex(props)}]: ${describeFrame(f)}`);
      }
    }
  });
}, { versions: [5] });

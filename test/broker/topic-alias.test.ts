// MQTT 5 Topic Aliases in both directions: those the broker sends and those a client sets.
// Outbound (broker → client, 3.3.2.3.4) for clients whose CONNECT set a Topic Alias Maximum: the
// first PUBLISH for a topic carries the name and an alias, later ones an empty name and the alias;
// least recently used topics give their alias up; never an alias above the client's maximum
// [MQTT-3.1.2-26] [MQTT-3.3.2-11], none without one; a PUBLISH too large for the client is not
// sent and sets no alias; other subscribers of the same fan-out keep the shared encoding.
// Inbound: set, used, remapped, and the errors (alias 0, above the maximum, never set).
// Publishers and subscribers sit on different shards with 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { forEachConfig, useBroker, shoalOnly } from '../helpers/matrix.ts';
import { RawClient, buildPublish, prop, publishProperties, describeFrame, hex, assertClosedWith, rawConnector, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, end, uid, withTimeout } from '../helpers/clients.ts';

interface Seen { topic: string; alias: number | undefined; named: boolean; raw: Buffer; payload: string }

/** Resolves aliases as a client must; fails on an alias above `max` or an unknown alias without a topic. */
function resolver(max: number): (p: Pub) => Seen {
  const map = new Map<number, string>();
  return (p) => {
    const alias = (p.properties as { topicAlias?: number } | undefined)?.topicAlias;
    const named = p.topic !== '';
    if (alias !== undefined) {
      assert.ok(alias >= 1 && alias <= max, `[MQTT-3.3.2-11] alias ${alias} outside 1..${max}: ${describeFrame(p)}`);
      if (named) map.set(alias, p.topic);
    }
    const topic = named ? p.topic : map.get(alias ?? -1);
    assert.ok(topic !== undefined, `PUBLISH with an empty topic and an alias never set: ${describeFrame(p)}`);
    return { topic, alias, named, raw: p.raw, payload: p.payload.toString() };
  };
}

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });
  const raw = rawConnector(h, version, 'v5');

  async function subscriber(props: Record<string, unknown>, filter: string, qos = 0, subProps?: Record<string, unknown>): Promise<RawClient> {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('alias-sub'), properties: props as never });
    const messageId = c.id();
    c.sendPacket({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }], properties: subProps } as never);
    await c.waitFor('suback');
    return c;
  }

  test('[MQTT-3.1.2-26] [MQTT-3.3.2-11] first PUBLISH of a topic names it with an alias, later ones send the alias alone; LRU reuse when the 2 aliases are taken', shoalOnly('Mosquitto sends no outbound topic aliases'), async () => {
    const base = uid('lru');
    const sub = await subscriber({ topicAliasMaximum: 2 }, `${base}/#`);
    const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('alias-pub') });
    try {
      const seq = ['a', 'a', 'b', 'a', 'c', 'b', 'c', 'a'];
      for (let i = 0; i < seq.length; i++) pub.send(buildPublish({ version: 4, topic: `${base}/${seq[i]}`, payload: `m${i}`, qos: 0 }));
      const resolve = resolver(2);
      const got: Seen[] = [];
      for (let i = 0; i < seq.length; i++) got.push(resolve(await sub.expectPacket('publish') as Pub));
      assert.deepEqual(got.map((g) => g.topic), seq.map((t) => `${base}/${t}`), 'topics in publish order');
      assert.deepEqual(got.map((g) => g.payload), seq.map((_, i) => `m${i}`));
      assert.deepEqual(got.map((g) => [g.alias, g.named]), [
        [1, true], [1, false], [2, true], [1, false], [2, true], [1, true], [2, false], [1, true],
      ], got.map((g) => hex(g.raw)).join('\n'));
      // An alias-only PUBLISH is shorter by the topic's length.
      assert.equal(got[0]!.raw.length - got[1]!.raw.length, Buffer.byteLength(`${base}/a`));
    } finally { sub.destroy(); pub.destroy(); }
  });

  test('[MQTT-3.3.2-7] QoS 1 with a Subscription Identifier: alias and identifier together, packet ids per message; the topic again after a reconnect (aliases live per connection)', shoalOnly('Mosquitto sends no outbound topic aliases'), async () => {
    const topic = uid('alias-q1');
    const clientId = uid('alias-persist');
    const { c: sub } = await RawClient.connect(h.port, { version, clientId, clean: false, properties: { topicAliasMaximum: 4, sessionExpiryInterval: 60 } as never });
    sub.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }], properties: { subscriptionIdentifier: 7 } } as never);
    await sub.waitFor('suback');
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('alias-pub') });
    try {
      const resolve = resolver(4);
      for (let i = 0; i < 3; i++) {
        pub.send(buildPublish({ version, topic, payload: `q${i}`, qos: 1, id: 10 + i }));
        await pub.waitFor('puback');
        const p = await sub.expectPacket('publish') as Pub;
        const seen = resolve(p);
        assert.equal(seen.topic, topic);
        assert.equal(seen.named, i === 0, describeFrame(p));
        assert.equal((p.properties as { subscriptionIdentifier?: number }).subscriptionIdentifier, 7);
        assert.equal(p.qos, 1);
        await sub.ack(p);
      }
      sub.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = await RawClient.connect(h.port, { version, clientId, clean: false, properties: { topicAliasMaximum: 4 } as never });
      try {
        pub.send(buildPublish({ version, topic, payload: 'after', qos: 1, id: 20 }));
        const p = await again.c.waitFor('publish') as Pub;
        assert.equal(p.topic, topic, `a new connection starts with no aliases: ${describeFrame(p)}`);
        await again.c.ack(p);
      } finally { again.c.destroy(); }
    } finally { sub.destroy(); pub.destroy(); }
  });

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] Maximum Packet Size: a PUBLISH too large with its topic is dropped and sets no alias; with the alias alone a larger payload fits', shoalOnly('Mosquitto sends no outbound topic aliases'), async () => {
    const topic = `${uid('alias-max')}/${'t'.repeat(40)}`;
    const max = 40 + topic.length; // fixed header 2 + topic 2+len + props 1+3 + payload
    const sub = await subscriber({ topicAliasMaximum: 3, maximumPacketSize: max }, topic);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('alias-pub') });
    try {
      const room = max - (2 + 2 + topic.length + 1 + 3); // payload that just fits with the topic and an alias
      pub.send(buildPublish({ version, topic, payload: 'x'.repeat(room + 1), qos: 0 }));  // too large: dropped
      pub.send(buildPublish({ version, topic, payload: 'small', qos: 0 }));               // sets the alias
      pub.send(buildPublish({ version, topic, payload: 'y'.repeat(room + 20), qos: 0 }));  // fits only as alias
      const resolve = resolver(3);
      const a = resolve(await sub.expectPacket('publish') as Pub);
      assert.equal(a.payload, 'small');
      assert.ok(a.named, 'the dropped PUBLISH set no alias: the first one sent names the topic');
      const b = resolve(await sub.expectPacket('publish') as Pub);
      assert.equal(b.payload.length, room + 20);
      assert.ok(!b.named && b.raw.length <= max, `${b.raw.length} bytes, max ${max}`);
      await sub.expectNothing(200);
    } finally { sub.destroy(); pub.destroy(); }
  });

  test('[MQTT-3.1.2-27] one fan-out to an aliasing v5 client, a plain v5 client and a 3.1.1 client: only the first uses aliases', async () => {
    const topic = uid('alias-mixed');
    const aliasing = await subscriber({ topicAliasMaximum: 5 }, topic);
    const plain = await subscriber({}, topic);
    const { c: old } = await RawClient.connect(h.port, { version: 4, clientId: uid('v4') });
    await old.subscribe(topic, 0);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('alias-pub') });
    try {
      for (let i = 0; i < 3; i++) pub.send(buildPublish({ version, topic, payload: `p${i}`, qos: 0 }));
      const resolve = resolver(5);
      const named: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const s = resolve(await aliasing.expectPacket('publish') as Pub);
        assert.equal(s.topic, topic);
        named.push(s.named);
        for (const c of [plain, old]) {
          const p = await c.expectPacket('publish') as Pub;
          assert.equal(p.topic, topic);
          assert.equal((p.properties as { topicAlias?: number } | undefined)?.topicAlias, undefined, `[MQTT-3.1.2-27] ${describeFrame(p)}`);
        }
      }
      if (h.broker.kind === 'shoal') assert.deepEqual(named, [true, false, false]);
    } finally { for (const c of [aliasing, plain, old, pub]) c.destroy(); }
  });

  test('MQTT.js with topicAliasMaximum resolves the aliases: every message arrives with its topic, in order', async () => {
    const base = uid('alias-js');
    const client = mqtt.connect(h.url, { protocolVersion: 5, clientId: uid('js'), reconnectPeriod: 0, properties: { topicAliasMaximum: 2 } });
    try {
      await withTimeout(new Promise<void>((res, rej) => { client.once('connect', () => res()); client.once('error', rej); }), 5000, 'connect');
      await client.subscribeAsync(`${base}/#`, { qos: 1 });
      const got: string[] = [];
      const done = new Promise<void>((res) => client.on('message', (t, m) => { got.push(`${t}=${m.toString()}`); if (got.length === 9) res(); }));
      const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('alias-pub') });
      const seq = ['x', 'y', 'x', 'z', 'z', 'y', 'x', 'w', 'x'];
      for (let i = 0; i < seq.length; i++) pub.send(buildPublish({ version, topic: `${base}/${seq[i]}`, payload: String(i), qos: (i % 2) as 0 | 1, id: i % 2 === 1 ? 100 + i : undefined }));
      await withTimeout(done, 5000, `9 messages, got ${got.join(' ')}`);
      assert.deepEqual(got, seq.map((t, i) => `${base}/${t}=${i}`));
      pub.destroy();
    } finally { client.end(true); }
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

  // Aliases the client sets (client → broker): the server's Topic Alias Maximum applies.
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
}, { versions: [5] });

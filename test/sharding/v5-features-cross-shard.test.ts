// MQTT 5 features (and their 3.1.1 counterparts) when the parties sit on different shards: with
// --shards 4 the broker places each new connection on the shard with the fewest, so clients
// connected one after another are spread over all four, and every fan-out below crosses shard
// boundaries through the rings. One broker, many connections per test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildPublish, prop, publishProperties, describeFrame, type ReceivedPublish as Pub, type Version } from '../helpers/raw.ts';
import { uid, sleep } from '../helpers/clients.ts';

const SHARDS = 4;

describe(`MQTT 5 features across ${SHARDS} shards`, { skip: isMosquitto ? 'Shoal only: shards' : undefined, concurrency: false }, () => {
  const h = useBroker({ shards: SHARDS, extraArgs: ['--response-information', 'resp/%c/'] });

  async function client(version: Version, properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<RawClient> {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid(`x${version}`), properties: (version === 5 ? properties : undefined) as never, ...extra });
    return c;
  }
  async function sub(c: RawClient, topic: string, qos: number, properties?: Record<string, unknown>, options: Record<string, unknown> = {}): Promise<void> {
    c.sendPacket({ cmd: 'subscribe', messageId: c.id(), subscriptions: [{ topic, qos, ...options }], properties } as never);
    await c.waitFor('suback');
  }

  test('one publish fans out to 8 subscribers on all shards, each with its own options: subscription ids, topic aliases, packet size, Retain As Published, 3.1.1', async () => {
    const base = uid('fan');
    const pub = await client(5);
    const ids = await client(5);                                 // two overlapping subscriptions with ids
    await sub(ids, `${base}/#`, 1, { subscriptionIdentifier: 11 });
    await sub(ids, `${base}/+`, 0, { subscriptionIdentifier: 12 });
    const alias = await client(5, { topicAliasMaximum: 2 });
    await sub(alias, `${base}/+`, 1);
    const small = await client(5, { maximumPacketSize: 64 });
    await sub(small, `${base}/+`, 0);
    const rap = await client(5);
    await sub(rap, `${base}/+`, 1, undefined, { rap: true });
    const old: RawClient[] = [];
    for (let i = 0; i < 4; i++) { const c = await client(4); await sub(c, `${base}/+`, 1); old.push(c); }
    const all = [pub, ids, alias, small, rap, ...old];
    try {
      const props = Buffer.concat([prop.byte(0x01, 1), prop.str(0x03, 'text/plain'), prop.pair(0x26, 'k', 'v')]);
      pub.send(buildPublish({ version: 5, topic: `${base}/a`, payload: 'short', qos: 1, id: 1, retain: true, properties: props }));
      pub.send(buildPublish({ version: 5, topic: `${base}/a`, payload: 'x'.repeat(100), qos: 1, id: 2, properties: props }));
      await pub.waitFor('puback');
      await pub.waitFor('puback');

      // Overlapping subscriptions: one copy, QoS max(1, 0), both identifiers [MQTT-3.3.4-2] [MQTT-3.3.4-3].
      for (const payload of ['short', 'x'.repeat(100)]) {
        const p = await ids.waitFor('publish') as Pub;
        assert.equal(p.payload.toString(), payload);
        assert.equal(p.qos, 1);
        const got = p.properties?.subscriptionIdentifier;
        assert.deepEqual((Array.isArray(got) ? got : [got]).sort(), [11, 12], describeFrame(p));
        assert.deepEqual(publishProperties(p.raw).filter(([id]) => id === 0x01 || id === 0x03 || id === 0x26), [[0x01, 1], [0x03, 'text/plain'], [0x26, ['k', 'v']]]);
        await ids.ack(p);
      }
      // Topic aliases: the first names the topic, the second is alias-only.
      const a1 = await alias.waitFor('publish') as Pub;
      const a2 = await alias.waitFor('publish') as Pub;
      assert.equal(a1.topic, `${base}/a`);
      assert.equal(a2.topic, '', describeFrame(a2));
      assert.equal(a1.properties?.topicAlias, a2.properties?.topicAlias);
      await alias.ack(a1); await alias.ack(a2);
      // Maximum Packet Size 64: the short one arrives, the long one is not sent [MQTT-3.1.2-25].
      assert.equal((await small.waitFor('publish') as Pub).payload.toString(), 'short');
      await small.expectNothing(200);
      // Retain As Published: RETAIN 1 kept on the first; plain subscribers get RETAIN 0 [MQTT-3.3.1-12] [MQTT-3.3.1-13].
      const r1 = await rap.waitFor('publish') as Pub;
      assert.equal(r1.retain, true);
      await rap.ack(r1);
      for (const c of old) {
        const p = await c.waitFor('publish') as Pub;
        assert.equal(p.retain, false);
        assert.equal(p.payload.toString(), 'short');
        assert.equal(p.raw.length, 2 + 2 + `${base}/a`.length + 2 + 5, '3.1.1 PUBLISH without properties');
        await c.ack(p);
        const q = await c.waitFor('publish') as Pub;
        await c.ack(q);
      }
      pub.send(buildPublish({ version: 5, topic: `${base}/a`, payload: '', qos: 0, retain: true }));
    } finally { for (const c of all) c.destroy(); }
  });

  test('request/response across shards: Response Information as the reply prefix, Response Topic and Correlation Data forwarded unaltered', async () => {
    const service = uid('svc');
    const responder = await client(5);
    await sub(responder, `${service}/req`, 1);
    const { c: requester, connack } = await RawClient.connect(h.port, { version: 5, clientId: uid('req'), properties: { requestResponseInformation: true } as never });
    try {
      const info = (connack as unknown as { properties?: { responseInformation?: string } }).properties?.responseInformation;
      assert.ok(info?.startsWith('resp/'), `Response Information: ${info}`);
      const replyTo = `${info}${service}`;
      await sub(requester, replyTo, 1);
      const corr = Buffer.from([0xde, 0xad, 0x00, 0x01]);
      requester.send(buildPublish({ version: 5, topic: `${service}/req`, payload: 'ping', qos: 1, id: 3, properties: Buffer.concat([prop.str(0x08, replyTo), prop.str(0x09, corr)]) }));
      const req = await responder.waitFor('publish') as Pub;
      await responder.ack(req);
      const rprops = publishProperties(req.raw);
      const rt = rprops.find(([id]) => id === 0x08)?.[1] as string;
      const cd = rprops.find(([id]) => id === 0x09)?.[1] as Buffer;
      assert.equal(rt, replyTo, '[MQTT-3.3.2-15]');
      assert.deepEqual(cd, corr, '[MQTT-3.3.2-16]');
      responder.send(buildPublish({ version: 5, topic: rt, payload: 'pong', qos: 1, id: 4, properties: prop.str(0x09, cd) }));
      const resp = await requester.waitFor('publish') as Pub;
      assert.equal(resp.payload.toString(), 'pong');
      assert.deepEqual(publishProperties(resp.raw).find(([id]) => id === 0x09)?.[1], corr);
      await requester.ack(resp);
    } finally { responder.destroy(); requester.destroy(); }
  });

  test('Message Expiry across shards: a persistent session offline gets only what has not expired, with the remaining interval', async () => {
    const topic = uid('exp');
    const clientId = uid('offline');
    const { c: s1 } = await RawClient.connect(h.port, { version: 5, clientId, clean: true, properties: { sessionExpiryInterval: 60 } as never });
    await sub(s1, topic, 1);
    s1.disconnect();
    await sleep(100);
    const pub = await client(5);
    try {
      pub.send(buildPublish({ version: 5, topic, payload: 'short-lived', qos: 1, id: 1, properties: prop.u32(0x02, 1) }));
      pub.send(buildPublish({ version: 5, topic, payload: 'long-lived', qos: 1, id: 2, properties: prop.u32(0x02, 60) }));
      await pub.waitFor('puback'); await pub.waitFor('puback');
      await sleep(2100);
      const { c: s2 } = await RawClient.connect(h.port, { version: 5, clientId, clean: false, properties: { sessionExpiryInterval: 0 } as never });
      try {
        const p = await s2.waitFor('publish') as Pub;
        assert.equal(p.payload.toString(), 'long-lived', 'the expired one is not delivered [MQTT-3.3.2-5]');
        const left = publishProperties(p.raw).find(([id]) => id === 0x02)?.[1] as number;
        assert.ok(left <= 58 && left >= 55, `remaining expiry ${left} [MQTT-3.3.2-6]`);
        await s2.ack(p);
        await s2.expectNothing(300);
      } finally { s2.destroy(); }
    } finally { pub.destroy(); }
  });

  test('Session takeover across shards with topic aliases and Receive Maximum: the new connection starts a fresh alias map and a fresh window', async () => {
    const topic = uid('take');
    const clientId = uid('mover');
    const props = { topicAliasMaximum: 5, receiveMaximum: 1, sessionExpiryInterval: 60 };
    const { c: first } = await RawClient.connect(h.port, { version: 5, clientId, clean: true, properties: props as never });
    await sub(first, topic, 1);
    const pub = await client(5);
    try {
      for (let i = 0; i < 3; i++) pub.send(buildPublish({ version: 5, topic, payload: `t${i}`, qos: 1, id: i + 1 }));
      const p0 = await first.waitFor('publish') as Pub;
      assert.equal(p0.payload.toString(), 't0');
      await first.expectNothing(200); // Receive Maximum 1: nothing more until PUBACK [MQTT-3.3.4-9]
      // Another connection (on another shard) takes the session over without acknowledging t0.
      const { c: second } = await RawClient.connect(h.port, { version: 5, clientId, clean: false, properties: props as never });
      try {
        const frames = await first.expectClose(3000);
        assert.ok(frames.every((f) => f.cmd === 'disconnect' || f.cmd === 'publish'), frames.map(describeFrame).join('; '));
        const got: string[] = [];
        for (let i = 0; i < 3; i++) {
          const p = await second.waitFor('publish') as Pub;
          if (i === 0) { assert.equal(p.topic, topic, 'a new connection: the topic is named again'); assert.equal(p.dup, true, 't0 is re-sent with DUP'); }
          got.push(p.payload.toString());
          await second.ack(p);
        }
        assert.deepEqual(got, ['t0', 't1', 't2']);
      } finally { second.destroy(); }
    } finally { first.destroy(); pub.destroy(); }
  });
});

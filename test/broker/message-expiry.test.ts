// MQTT 5 Message Expiry Interval: expired messages are not delivered, others carry what is left.
// Expiry applies to messages queued for an offline session and to retained messages; a PUBLISH
// already sent is re-sent whatever its expiry. 1 and 4 shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, prop, publishProperties, rawConnector, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, publish, end, uid, sleep } from '../helpers/clients.ts';

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });
  const raw = rawConnector(h, version, 'v5');

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

  test('[MQTT-4.3.3-7] [MQTT-3.3.2-5] a QoS 1 PUBLISH already sent is re-sent after reconnecting even when its expiry passed meanwhile', async () => {
    const topic = uid('sent-exp');
    const clientId = uid('sent-exp');
    const { c: sub } = await RawClient.connect(h.port, { version, clientId, properties: { sessionExpiryInterval: 60 } as never });
    await sub.subscribe(topic, 1);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.send(buildPublish({ version, topic, payload: 'in flight', qos: 1, id: 1, properties: prop.u32(0x02, 1) }));
      const p = await sub.waitFor('publish') as Pub;
      assert.equal(p.payload.toString(), 'in flight');
      sub.destroy(); // no PUBACK
      await sleep(1600);
      const again = await RawClient.connect(h.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 60 } as never });
      try {
        const r = await again.c.waitFor('publish') as Pub;
        assert.equal(r.payload.toString(), 'in flight');
        assert.equal(r.dup, true);
        assert.equal(r.messageId, p.messageId, 'same packet id [MQTT-4.4.0-1]');
        await again.c.ack(r);
      } finally { again.c.destroy(); }
    } finally { pub.destroy(); }
  });
}, { versions: [5] });

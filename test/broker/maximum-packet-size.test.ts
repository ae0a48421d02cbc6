// The client's Maximum Packet Size (MQTT 5): nothing larger is sent to it.
// A PUBLISH too large for the client is dropped, not sent, and a SUBACK leaves its Reason String
// out to fit. 1 and 4 shards. (CONNACK: auth.test.ts; topic aliases of a dropped PUBLISH:
// topic-alias.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, rawConnector, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, publish, end, uid } from '../helpers/clients.ts';

/** The next `n` PUBLISH payloads, each acknowledged, each checked against the client's `max`. */
async function takeAcking(c: RawClient, n: number, max: number): Promise<string[]> {
  const got: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await c.expectPacket('publish') as Pub;
    assert.ok(m.raw.length <= max, `packet of ${m.raw.length} bytes sent to a client with Maximum Packet Size ${max}`);
    got.push(m.payload.toString());
    await c.ack(m);
  }
  return got;
}

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });
  const raw = rawConnector(h, version, 'v5');

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] client Maximum Packet Size: a larger message is not sent (dropped), the connection stays', async () => {
    const topic = uid('cmax');
    const { c } = await raw({ maximumPacketSize: 200 });
    await c.subscribe(topic, 1);
    const p = await connect(h.url, { version });
    try {
      await publish(p, topic, 'small-1', { qos: 1 });
      await publish(p, topic, Buffer.alloc(500, 0x41), { qos: 1 });
      await publish(p, topic, 'small-2', { qos: 1 });
      assert.deepEqual(await takeAcking(c, 2, 200), ['small-1', 'small-2']);
      await c.expectNothing(300);
      assert.ok(!c.closed);
    } finally { c.disconnect(); await end(p); }
  });

  test('[MQTT-3.1.2-25] client Maximum Packet Size for queued messages: one too large is dropped when its turn comes, the rest follow in order', async () => {
    const topic = uid('cmaxq');
    // Receive Maximum 1: everything after the first waits in the session queue, and goes out
    // from there (encoded into the connection's output) as each PUBACK frees the window.
    const { c } = await raw({ maximumPacketSize: 200, receiveMaximum: 1 });
    await c.subscribe(topic, 1);
    const p = await connect(h.url, { version });
    try {
      for (const body of ['q-1', Buffer.alloc(500, 0x41), 'q-2', Buffer.alloc(201, 0x42), 'q-3']) await publish(p, topic, body, { qos: 1 });
      assert.deepEqual(await takeAcking(c, 3, 200), ['q-1', 'q-2', 'q-3']);
      await c.expectNothing(300);
      assert.ok(!c.closed);
    } finally { c.disconnect(); await end(p); }
  });

  test('[MQTT-3.9.2-1] a SUBACK Reason String is left out when it would exceed the client\'s Maximum Packet Size', mosquittoDeviates('Mosquitto disconnects on an invalid filter'), async () => {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('tiny'), properties: { maximumPacketSize: 24 } as never });
    try {
      c.sendPacket({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'a/#/b', qos: 0 }] } as never);
      const ack = await c.waitFor('suback');
      assert.ok(ack.raw.length <= 24, `${ack.raw.length} bytes`);
      assert.equal((ack as unknown as { properties?: { reasonString?: string } }).properties?.reasonString, undefined);
      assert.deepEqual((ack as unknown as { granted: number[] }).granted, [0x8f]);
    } finally { c.destroy(); }
  });
}, { versions: [5] });

// MQTT 5 flow control (Receive Maximum, 4.9): the client's window kept, the server's enforced.
// The broker keeps to the client's Receive Maximum, enforces its own (DISCONNECT 0x93), and a
// full window holds back only PUBLISHes. 1 and 4 shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, buildPublish, buildAck, codeOf, rawConnector, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, publish, end, uid } from '../helpers/clients.ts';

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });
  const raw = rawConnector(h, version, 'v5');

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

  test('[MQTT-3.3.4-10] [MQTT-4.9.0-3] with the client\'s Receive Maximum used up, PINGRESP and SUBACK still come at once', async () => {
    const topic = uid('window');
    const { c: sub } = await RawClient.connect(h.port, { version, clientId: uid('rm1'), properties: { receiveMaximum: 1 } as never });
    await sub.subscribe(topic, 1);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.send(buildPublish({ version, topic, payload: 'one', qos: 1, id: 1 }));
      pub.send(buildPublish({ version, topic, payload: 'two', qos: 1, id: 2 }));
      const first = await sub.waitFor('publish') as Pub;
      sub.sendPacket({ cmd: 'pingreq' } as never);
      await sub.waitFor('pingresp', 1000);
      await sub.subscribe(`${topic}/other`, 0, 1000);
      assert.ok(!sub.log.some((f) => f.cmd === 'publish' && (f as Pub).payload.toString() === 'two'), 'the window holds the second PUBLISH');
      await sub.ack(first);
      assert.equal((await sub.waitFor('publish') as Pub).payload.toString(), 'two');
    } finally { sub.destroy(); pub.destroy(); }
  });
}, { versions: [5] });

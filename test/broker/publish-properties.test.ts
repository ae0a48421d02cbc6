// MQTT 5 PUBLISH properties: forwarded unaltered, left out for 3.1.1, checked on the way in.
// User properties keep their order; a 3.1.1 subscriber gets a PUBLISH without properties; UTF-8
// strings, a Response Topic without wildcards and the Payload Format Indicator are checked. 1 and
// 4 shards: publishers and subscribers connect one after another, so they sit on different shards
// with 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import {
  RawClient, buildPublish, prop, publishProperties, codeOf, describeFrame, hex, mqttString, closedWith, rawConnector,
  type ReceivedPublish as Pub,
} from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards });
  const raw = rawConnector(h, version, 'v5');

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

  test('(3.3.2.3.2) Payload Format Indicator 1 with a payload that is not UTF-8: DISCONNECT/PUBACK 0x99, not delivered', async () => {
    const topic = uid('pfi');
    const { c: sub } = await raw();
    await sub.subscribe(topic, 1);
    const { c: pub } = await raw();
    try {
      pub.send(buildPublish({ version, topic, payload: Buffer.from([0x61, 0xff, 0xfe]), qos: 1, id: 9, properties: prop.byte(0x01, 1) }));
      const f = await pub.next(5000, 'PUBACK 0x99 or DISCONNECT 0x99');
      assert.ok(['puback', 'disconnect'].includes(f.cmd), describeFrame(f));
      assert.equal(codeOf(f), 0x99, describeFrame(f));
      await sub.expectNothing(300);
    } finally { sub.destroy(); pub.destroy(); }
  });

  test('[MQTT-1.5.7-1] [MQTT-3.3.2-13] a User Property or Response Topic that is not UTF-8: DISCONNECT 0x81, not delivered', async () => {
    const topic = uid('pair');
    const { c: watcher } = await RawClient.connect(h.port, { version, clientId: uid('watch') });
    await watcher.subscribe(topic, 0);
    const bad = Buffer.from([0xc3, 0x28]);
    try {
      for (const [what, props] of [
        ['User Property key', Buffer.concat([Buffer.from([0x26]), mqttString(bad), mqttString('v')])],
        ['User Property value', Buffer.concat([Buffer.from([0x26]), mqttString('k'), mqttString(bad)])],
        ['Response Topic', Buffer.concat([Buffer.from([0x08]), mqttString(bad)])],
      ] as const) {
        const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
        try {
          c.send(buildPublish({ version, topic, payload: 'x', properties: props }));
          await closedWith(c, [0x81], what);
        } finally { c.destroy(); }
      }
      await watcher.expectNothing(200);
    } finally { watcher.destroy(); }
  });

  test('[MQTT-3.3.2-14] a Response Topic with a wildcard (DISCONNECT 0x82), [MQTT-3.3.2-19] a Content Type that is not UTF-8 (0x81): not delivered', async () => {
    const topic = uid('resp');
    const { c: watcher } = await RawClient.connect(h.port, { version, clientId: uid('watch') });
    await watcher.subscribe(topic, 0);
    try {
      for (const [what, props, reasons] of [
        ['Response Topic a/+', prop.str(0x08, 'a/+'), [0x82, 0x81]],
        ['Content Type 0xC3 0x28', Buffer.concat([Buffer.from([0x03, 0x00, 0x02, 0xc3, 0x28])]), [0x81, 0x82]],
      ] as const) {
        const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
        try {
          c.send(buildPublish({ version, topic, payload: 'x', properties: props }));
          await closedWith(c, [...reasons], what);
        } finally { c.destroy(); }
      }
      await watcher.expectNothing(200);
    } finally { watcher.destroy(); }
  });
}, { versions: [5] });

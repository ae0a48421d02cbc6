// Normative statements that had no test of their own (see docs/conformance.md): raw UTF-8 of
// SUBSCRIBE/UNSUBSCRIBE filters, Will user property order, Response Topic and Content Type
// checks, DISCONNECT reserved flags, other packets flowing while the Receive Maximum window is
// full, the SUBACK Reason String within the client's Maximum Packet Size, message expiry not
// applied to a PUBLISH already sent, a failed PUBACK ending the flow. 1 and 4 shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, buildConnect, buildPublish, buildSubscribe, frame, mqttString, prop, publishProperties, codeOf, describeFrame, type Frame, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { uid, sleep } from '../helpers/clients.ts';

/** Only a DISCONNECT with one of `reasons` may precede the close. */
async function closedWith(c: RawClient, reasons: number[], what: string): Promise<void> {
  const frames: Frame[] = await c.expectClose(5000);
  for (const f of frames) {
    assert.equal(f.cmd, 'disconnect', `${what}: unexpected ${describeFrame(f)}`);
    assert.ok(reasons.includes(codeOf(f) ?? 0), `${what}: ${describeFrame(f)}`);
  }
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v5 = version === 5;

  test('[MQTT-3.8.3-1] [MQTT-3.10.3-1] [MQTT-1.5.4-1] a SUBSCRIBE or UNSUBSCRIBE filter that is not UTF-8 closes the connection (v5: DISCONNECT 0x81)', async () => {
    const bad = Buffer.from([0x61, 0x2f, 0xc3, 0x28]); // "a/" + ill-formed sequence
    for (const [what, bytes] of [
      ['SUBSCRIBE', buildSubscribe({ version, id: 3, filters: [{ topic: bad, options: 0 }] })],
      ['UNSUBSCRIBE', frame(0xa2, Buffer.concat([Buffer.from([0, 4]), v5 ? Buffer.from([0]) : Buffer.alloc(0), mqttString(bad)]))],
    ] as const) {
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('badfilter') });
      try {
        c.send(bytes);
        await closedWith(c, [0x81], what);
      } finally { c.destroy(); }
    }
  });

  test(`${v5 ? '[MQTT-3.10.4-6] [MQTT-3.11.3-1]' : '[MQTT-3.10.4-6]'} one UNSUBSCRIBE with three filters: one UNSUBACK${v5 ? ', a code per filter in order' : ''}, deliveries stop`, async () => {
    const base = uid('unsub3');
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('unsub3') });
    try {
      await c.subscribe([{ topic: `${base}/a`, qos: 0 }, { topic: `${base}/c`, qos: 0 }]);
      c.sendPacket({ cmd: 'unsubscribe', messageId: 77, unsubscriptions: [`${base}/a`, `${base}/b`, `${base}/c`] } as never);
      const ack = await c.waitFor('unsuback');
      assert.equal((ack as unknown as { messageId: number }).messageId, 77);
      if (v5) assert.deepEqual((ack as unknown as { granted: number[] }).granted, [0x00, 0x11, 0x00]);
      await c.expectNothing(150); // exactly one UNSUBACK
      c.send(buildPublish({ version, topic: `${base}/a`, payload: 'x' }));
      c.send(buildPublish({ version, topic: `${base}/c`, payload: 'x' }));
      await c.expectNothing(300);
    } finally { c.destroy(); }
  });

  test('[MQTT-3.10.4-3] a QoS 2 delivery started before an UNSUBSCRIBE is completed after it (PUBREC gets PUBREL); later messages are not sent', async () => {
    const topic = uid('unsub-q2');
    const { c: sub } = await RawClient.connect(h.port, { version, clientId: uid('unsub-q2') });
    await sub.subscribe(topic, 2);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.send(buildPublish({ version, topic, payload: 'started', qos: 2, id: 1 }));
      const p = await sub.waitFor('publish') as Pub;
      sub.sendPacket({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: [topic] } as never);
      await sub.waitFor('unsuback');
      sub.sendPacket({ cmd: 'pubrec', messageId: p.messageId } as never);
      const rel = await sub.waitFor('pubrel');
      assert.equal((rel as unknown as { messageId: number }).messageId, p.messageId);
      assert.ok(v5 ? (codeOf(rel) ?? 0) === 0 : true, describeFrame(rel));
      sub.sendPacket({ cmd: 'pubcomp', messageId: p.messageId } as never);
      pub.send(buildPublish({ version, topic, payload: 'after', qos: 2, id: 2 }));
      await sub.expectNothing(300);
    } finally { sub.destroy(); pub.destroy(); }
  });

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

  test(`${v5 ? '[MQTT-3.1.3-8]' : '[MQTT-3.1.3-9]'} a client id the server does not accept (257 bytes): CONNACK ${v5 ? '0x85' : '0x02'}, then close`, async () => {
    const c = await RawClient.open(h.port, { version });
    try {
      c.send(buildConnect({ version, clientId: 'x'.repeat(257), keepalive: 30 }));
      const frames = await c.expectClose(5000);
      assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['connack', v5 ? 0x85 : 0x02]], frames.map(describeFrame).join('; '));
    } finally { c.destroy(); }
  });

  test(`${v5 ? '[MQTT-3.1.3-11] [MQTT-3.1.3-12]' : '[MQTT-3.1.3-10] [MQTT-3.1.3-11]'} a Will Topic or User Name that is not UTF-8: refused${v5 ? ' (CONNACK 0x81)' : ' (closed without CONNACK)'}`, async () => {
    const bad = Buffer.from([0x77, 0xc3, 0x28]);
    for (const [what, spec] of [
      ['Will Topic', { will: { topic: bad, payload: 'x' } }],
      ['User Name', { username: bad, password: 'p' }],
    ] as const) {
      const c = await RawClient.open(h.port, { version });
      try {
        c.send(buildConnect({ version, clientId: uid('bad-utf8'), keepalive: 30, ...spec }));
        const frames = await c.expectClose(5000);
        if (v5) assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['connack', 0x81]], `${what}: ${frames.map(describeFrame).join('; ')}`);
        else assert.deepEqual(frames, [], `${what}: ${frames.map(describeFrame).join('; ')}`);
      } finally { c.destroy(); }
    }
  });

  if (!v5) return;

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

  test('[MQTT-3.1.3-10] the Will keeps its user properties in order (repeated keys included) and its other properties', mosquittoDeviates('not checked against Mosquitto'), async () => {
    const topic = uid('will-props');
    const { c: watcher } = await RawClient.connect(h.port, { version, clientId: uid('watch') });
    await watcher.subscribe(topic, 0);
    const c = await RawClient.open(h.port, { version });
    // a=1, b=2, a=3 (the same key apart): a broker decoding them into an object regroups them.
    const willProps = Buffer.concat([prop.u32(0x18, 0), prop.pair(0x26, 'a', '1'), prop.str(0x03, 'text/plain'), prop.pair(0x26, 'b', '2'), prop.u32(0x02, 60), prop.pair(0x26, 'a', '3')]);
    c.send(buildConnect({ version, clientId: uid('dying'), keepalive: 30, will: { topic, payload: 'gone', properties: willProps } }));
    await c.expectPacket('connack');
    c.destroy();
    try {
      const p = await watcher.waitFor('publish') as Pub;
      const props = publishProperties(p.raw).filter(([id]) => id === 0x26 || id === 0x03);
      assert.deepEqual(props, [[0x26, ['a', '1']], [0x03, 'text/plain'], [0x26, ['b', '2']], [0x26, ['a', '3']]], describeFrame(p));
      const expiry = publishProperties(p.raw).find(([id]) => id === 0x02)?.[1] as number;
      assert.ok(expiry > 55 && expiry <= 60, `Will Message Expiry carried as the remaining interval: ${expiry}`);
      assert.equal(publishProperties(p.raw).some(([id]) => id === 0x18), false, 'no Will Delay Interval in a PUBLISH');
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

  test('[MQTT-3.14.1-1] a DISCONNECT with reserved flags set is malformed: DISCONNECT 0x81 and close, the will is published', async () => {
    const topic = uid('dflags');
    const { c: watcher } = await RawClient.connect(h.port, { version, clientId: uid('watch') });
    await watcher.subscribe(topic, 0);
    const c = await RawClient.open(h.port, { version });
    try {
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: uid('dflags'), will: { topic, payload: Buffer.from('w'), qos: 0, retain: false } } as never);
      await c.expectPacket('connack');
      c.send(Buffer.from([0xe1, 0x00]));
      await closedWith(c, [0x81], 'DISCONNECT flags 0001');
      assert.equal((await watcher.waitFor('publish') as Pub).payload.toString(), 'w', 'not a normal disconnection: the will goes out');
    } finally { c.destroy(); watcher.destroy(); }
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

  test('[MQTT-4.4.0-2] a PUBACK with a reason code of 0x80 or more ends the flow: nothing re-sent after reconnecting', async () => {
    const topic = uid('nack');
    const clientId = uid('nack');
    const { c: sub } = await RawClient.connect(h.port, { version, clientId, properties: { sessionExpiryInterval: 60 } as never });
    await sub.subscribe(topic, 1);
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      pub.send(buildPublish({ version, topic, payload: 'refused', qos: 1, id: 1 }));
      const p = await sub.waitFor('publish') as Pub;
      sub.sendPacket({ cmd: 'puback', messageId: p.messageId, reasonCode: 0x80 } as never);
      await sleep(100);
      sub.destroy();
      await sleep(100);
      const again = await RawClient.connect(h.port, { version, clientId, clean: false, properties: { sessionExpiryInterval: 60 } as never });
      try {
        await again.c.expectNothing(400);
      } finally { again.c.destroy(); }
    } finally { pub.destroy(); }
  });
});

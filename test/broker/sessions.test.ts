// Sessions: clean and persistent sessions, Session Present, takeover, redelivery on reconnect.
// Clean session / clean start, persistent subscriptions, QoS 1/2 queued while offline, Session
// Present, takeover by the same client id (old connection closed, v5 reason 0x8E), redelivery of
// in-flight messages with DUP on reconnect (and none after a refusing PUBACK), v5 Session Expiry.
// With 4 shards every new connection for an id goes to a shard other than the live one holding it
// (fewest connections), so every takeover and resumption below crosses shards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, buildAck, buildPublish, codeOf, describeFrame, type Received, type Version, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, publish, uid, sleep, type MqttClient } from '../helpers/clients.ts';
import type { IConnectPacket } from 'mqtt-packet';

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v = version as Version;

  /** CONNECT fields for a session that outlives the connection. */
  const persistent = (clientId: string): Partial<IConnectPacket> & { version: Version } =>
    ({ version: v, clientId, clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 120 } } : {}) });
  const clean = (clientId: string): Partial<IConnectPacket> & { version: Version } =>
    ({ version: v, clientId, clean: true });

  /** End a persistent session for good (v5: expiry 0 on DISCONNECT; v3.1.1: reconnect clean). */
  async function discard(clientId: string): Promise<void> {
    const { c } = await RawClient.connect(h.port, clean(clientId));
    c.disconnect();
  }

  let pub: MqttClient | undefined;
  const publisher = async (): Promise<MqttClient> => (pub && pub.connected ? pub : (pub = await connect(h.url, { version })));
  after(() => { pub?.end(true); });

  test('[MQTT-3.2.2-1] [MQTT-3.1.2-6] clean session: Session Present 0 and nothing kept from before', async () => {
    const id = uid('cs');
    const topic = uid('cs-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 1);
    a.c.disconnect();
    await a.c.expectClose(3000);
    const b = await RawClient.connect(h.port, clean(id));
    try {
      assert.equal(b.connack.sessionPresent, false, 'clean session must report Session Present 0');
      await publish(await publisher(), topic, 'x', { qos: 1 });
      await b.c.expectNothing(500);
    } finally { b.c.disconnect(); }
    // And a clean session leaves nothing behind when it ends.
    await b.c.expectClose(3000);
    const c = await RawClient.connect(h.port, persistent(id));
    try {
      assert.equal(c.connack.sessionPresent, false, 'the clean session must not have been kept');
    } finally { c.c.disconnect(); await discard(id); }
  });

  test('[MQTT-3.2.2-2] [MQTT-3.1.2-4] persistent session: Session Present 1 and subscriptions kept across reconnect', async () => {
    const id = uid('ps');
    const topic = uid('ps-t');
    const a = await RawClient.connect(h.port, persistent(id));
    assert.equal(a.connack.sessionPresent, false, 'first connection has no session');
    await a.c.subscribe(topic, 1);
    a.c.disconnect();
    await a.c.expectClose(3000);
    const b = await RawClient.connect(h.port, persistent(id));
    try {
      assert.equal(b.connack.sessionPresent, true, 'Session Present must be 1 on resumption');
      await publish(await publisher(), topic, 'kept', { qos: 1 });
      const p = await b.c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'kept', 'subscription survived without re-subscribing');
      await b.c.ack(p);
    } finally { b.c.disconnect(); await discard(id); }
  });

  test('[MQTT-3.1.2-5] QoS 1 and QoS 2 messages published while offline are delivered on reconnect, in order', async () => {
    const id = uid('off');
    const topic = uid('off-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 2);
    a.c.disconnect();
    await a.c.expectClose(3000);
    const p = await publisher();
    for (let i = 0; i < 5; i++) await publish(p, topic, `q1-${i}`, { qos: 1 });
    for (let i = 0; i < 5; i++) await publish(p, topic, `q2-${i}`, { qos: 2 });
    const b = await RawClient.connect(h.port, persistent(id));
    try {
      assert.equal(b.connack.sessionPresent, true);
      const got: string[] = [];
      for (let i = 0; i < 10; i++) {
        const m = await b.c.expectPacket('publish') as Pub;
        got.push(`${m.payload.toString()}@${m.qos}`);
        await b.c.ack(m);
      }
      assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `q1-${i}@1`).concat([0, 1, 2, 3, 4].map((i) => `q2-${i}@2`)));
      await b.c.expectNothing(400);
    } finally { b.c.disconnect(); await discard(id); }
  });

  test('[MQTT-3.1.4-2] takeover: a new connection with the same client id closes the old one', async () => {
    const id = uid('to');
    const a = await RawClient.connect(h.port, clean(id));
    const b = await RawClient.connect(h.port, clean(id));
    try {
      assert.equal(codeOf(b.connack as Received), 0);
      const before = await a.c.expectClose(5000);
      for (const f of before) {
        assert.ok(version === 5 && f.cmd === 'disconnect' && codeOf(f) === 0x8e, `unexpected packet to the old connection: ${describeFrame(f)}`);
      }
      // The new connection is fully alive.
      b.c.send('c0 00');
      await b.c.expectPacket('pingresp');
    } finally { b.c.disconnect(); }
  });

  if (version === 5) {
    test('[MQTT-3.1.4-3] takeover: the old v5 connection gets DISCONNECT 0x8E (Session taken over) before the close',
      mosquittoDeviates('2.0.11 closes the old connection without DISCONNECT 0x8E'), async () => {
        const id = uid('to8e');
        const a = await RawClient.connect(h.port, clean(id));
        const b = await RawClient.connect(h.port, clean(id));
        try {
          const before = await a.c.expectClose(5000);
          assert.ok(before.some((f) => f.cmd === 'disconnect' && codeOf(f) === 0x8e),
            `old connection must get DISCONNECT 0x8E before close: ${a.c.history()}`);
        } finally { b.c.disconnect(); }
      });
  }

  test('takeover of a persistent session: Session Present 1, subscription and delivery move to the new connection only', async () => {
    const id = uid('tp');
    const topic = uid('tp-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 1);
    const b = await RawClient.connect(h.port, persistent(id));
    try {
      assert.equal(b.connack.sessionPresent, true, 'session taken over is present');
      await a.c.expectClose(5000);
      await publish(await publisher(), topic, 'to new owner', { qos: 1 });
      const p = await b.c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'to new owner');
      await b.c.ack(p);
      await b.c.expectNothing(400);
      assert.ok(!a.c.log.some((f) => f.cmd === 'publish'), `old connection got a PUBLISH: ${a.c.history()}`);
    } finally { b.c.disconnect(); await discard(id); }
  });

  test('[MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged QoS 1 PUBLISH is re-sent on reconnect with DUP=1 and the same packet id', async () => {
    const id = uid('rd1');
    const topic = uid('rd1-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 1);
    await publish(await publisher(), topic, 'unacked', { qos: 1 });
    const first = await a.c.expectPacket('publish') as Pub;
    assert.equal(first.dup, false);
    a.c.destroy(); // no PUBACK
    await sleep(100);
    const b = await RawClient.connect(h.port, persistent(id));
    try {
      assert.equal(b.connack.sessionPresent, true);
      const again = await b.c.expectPacket('publish') as Pub;
      assert.equal(again.payload.toString(), 'unacked');
      assert.equal(again.messageId, first.messageId, 'same packet id');
      assert.equal(again.dup, true, `DUP must be 1 on redelivery: ${describeFrame(again)}`);
      assert.equal(again.qos, 1);
      b.c.send(buildAck(0x40, again.messageId!));
      await b.c.expectNothing(400);
    } finally { b.c.disconnect(); await discard(id); }
  });

  test('[MQTT-4.4.0-1] unacknowledged QoS 2 PUBLISH is re-sent with DUP; after PUBREC the PUBREL is re-sent instead', async () => {
    const id = uid('rd2');
    const topic = uid('rd2-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 2);
    const p = await publisher();
    await publish(p, topic, 'two-a', { qos: 2 });
    const first = await a.c.expectPacket('publish') as Pub;
    a.c.destroy(); // neither PUBREC nor anything else
    const b = await RawClient.connect(h.port, persistent(id));
    let relId: number;
    try {
      const again = await b.c.expectPacket('publish') as Pub;
      assert.equal(again.payload.toString(), 'two-a');
      assert.equal(again.messageId, first.messageId);
      assert.equal(again.dup, true, `DUP must be 1: ${describeFrame(again)}`);
      // Now acknowledge with PUBREC, receive PUBREL, and drop before PUBCOMP.
      b.c.send(buildAck(0x50, again.messageId!));
      const rel = await b.c.expectPacket('pubrel') as Pub;
      relId = rel.messageId!;
      assert.equal(relId, again.messageId);
    } finally { b.c.destroy(); }
    const c = await RawClient.connect(h.port, persistent(id));
    try {
      const f = await c.c.next(5000, 'PUBREL');
      assert.equal(f.cmd, 'pubrel', `expected the PUBREL to be re-sent (not the PUBLISH): ${describeFrame(f)}`);
      assert.equal((f as Received & { messageId?: number }).messageId, relId);
      assert.equal(f.raw[0], 0x62);
      c.c.send(buildAck(0x70, relId));
      await c.c.expectNothing(400);
    } finally { c.c.disconnect(); await discard(id); }
  });

  if (version === 5) {
    test('[MQTT-3.1.2-23] Session Expiry 0: the session ends with the connection (Session Present 0 after)', async () => {
      const id = uid('se0');
      const topic = uid('se0-t');
      const a = await RawClient.connect(h.port, { version: v, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
      await a.c.subscribe(topic, 1);
      a.c.disconnect();
      await a.c.expectClose(3000);
      await publish(await publisher(), topic, 'lost', { qos: 1 });
      const b = await RawClient.connect(h.port, { version: v, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
      try {
        assert.equal(b.connack.sessionPresent, false);
        await b.c.expectNothing(500);
      } finally { b.c.disconnect(); }
    });

    test('[MQTT-3.1.2-23] Session Expiry set on DISCONNECT: a session ended with expiry 0 is gone', async () => {
      const id = uid('sed');
      const a = await RawClient.connect(h.port, persistent(id));
      await a.c.subscribe(uid('sed-t'), 1);
      a.c.sendPacket({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await a.c.expectClose(3000);
      const b = await RawClient.connect(h.port, persistent(id));
      try {
        assert.equal(b.connack.sessionPresent, false);
      } finally { b.c.disconnect(); await discard(id); }
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
  }

  test('QoS 0 messages published while offline are not required, QoS 1 ones are: no loss of QoS 1 among QoS 0 traffic', async () => {
    const id = uid('mix');
    const topic = uid('mix-t');
    const a = await RawClient.connect(h.port, persistent(id));
    await a.c.subscribe(topic, 1);
    a.c.destroy();
    await sleep(100);
    const p = await publisher();
    for (let i = 0; i < 10; i++) {
      await publish(p, topic, `q0-${i}`, { qos: 0 });
      await publish(p, topic, `q1-${i}`, { qos: 1 });
    }
    const b = await RawClient.connect(h.port, persistent(id));
    try {
      const q1: string[] = [];
      const deadline = Date.now() + 5000;
      while (q1.length < 10 && Date.now() < deadline) {
        const m = await b.c.expectPacket('publish', deadline - Date.now()) as Pub;
        if (m.qos === 1) { q1.push(m.payload.toString()); await b.c.ack(m); }
      }
      assert.deepEqual(q1, Array.from({ length: 10 }, (_, i) => `q1-${i}`));
    } finally { b.c.disconnect(); await discard(id); }
  });
});

// SUBSCRIBE / UNSUBSCRIBE: which filters are granted, what they match, how deliveries start and stop.
// Wildcard matching (+, #, 'a/#' matching 'a'), '$' topics and leading wildcards, SUBACK codes
// (granted QoS, invalid filters, filters that are not UTF-8), UNSUBSCRIBE of one or several
// filters and of a delivery in flight, overlapping subscriptions, re-subscription, v5 No Local and
// Subscription Identifiers. Shared subscriptions: shared-subscriptions.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildSubscribe, buildPublish, frame, mqttString, codeOf, describeFrame, hex, closedWith, type Received, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, collect, subscribe, unsubscribe, publish, end, endAll, uid, sleep, type MqttClient } from '../helpers/clients.ts';

forEachConfig(({ version, shards }) => {
  // $SYS is published every second so '$' topic matching can be observed.
  const h = useBroker({ shards, sysInterval: 1 });
  const v5 = version === 5;

  test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.9.3-1] SUBACK echoes the packet id with one code per filter, in order', async () => {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('sa') });
    try {
      const base = uid('sa');
      c.send(buildSubscribe({ version, id: 0x4242, filters: [
        { topic: `${base}/a`, options: 2 }, { topic: `${base}/b`, options: 0 }, { topic: `${base}/+`, options: 1 },
      ] }));
      const ack = await c.expectPacket('suback') as Received & { messageId: number; granted: number[] };
      assert.equal(ack.messageId, 0x4242);
      assert.deepEqual(ack.granted, [2, 0, 1], `granted QoS as requested: ${describeFrame(ack)}`);
      if (version === 4) assert.equal(hex(ack.raw), '90 05 42 42 02 00 01');
    } finally { c.disconnect(); }
  });

  test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcard matching: +, #, "a/#" matches "a", empty levels, case', async () => {
    const p = uid('wm');
    // filter → topics it must receive; every filter sees every published topic.
    const table: Array<[string, string[]]> = [
      [`${p}/sport/tennis/+`, [`${p}/sport/tennis/p1`, `${p}/sport/tennis/`]],
      [`${p}/sport/#`, [`${p}/sport`, `${p}/sport/`, `${p}/sport/tennis/p1`, `${p}/sport/tennis/p1/rank`, `${p}/sport/tennis/`, `${p}/sport/x`]],
      [`${p}/sport/+`, [`${p}/sport/`, `${p}/sport/x`]],
      [`${p}/+/tennis/#`, [`${p}/sport/tennis/p1`, `${p}/sport/tennis/p1/rank`, `${p}/sport/tennis/`]],
      [`${p}/+/+`, [`${p}/sport/`, `${p}/sport/x`, `${p}//x`, `${p}/Sport/x`]],
      [`${p}/+/x`, [`${p}/sport/x`, `${p}//x`, `${p}/Sport/x`]],
      [`+/${p}/+`, [`/${p}/x`]],
      [`${p}/Sport/#`, [`${p}/Sport/x`]],
      [`${p}/sport/tennis/p1/rank`, [`${p}/sport/tennis/p1/rank`]],
      [`${p}/#`, [`${p}/sport`, `${p}/sport/`, `${p}/sport/tennis/p1`, `${p}/sport/tennis/p1/rank`, `${p}/sport/tennis/`, `${p}/sport/x`, `${p}//x`, `${p}/Sport/x`, `${p}/sportx`]],
    ];
    const topics = [`${p}/sport`, `${p}/sport/`, `${p}/sport/tennis/p1`, `${p}/sport/tennis/p1/rank`, `${p}/sport/tennis/`, `${p}/sport/x`, `${p}//x`, `/${p}/x`, `${p}/Sport/x`, `${p}/sportx`];
    const clients: MqttClient[] = [];
    try {
      const cols = [];
      for (const [filter] of table) {
        const c = await connect(h.url, { version });
        clients.push(c);
        cols.push(collect(c));
        await subscribe(c, filter, { qos: 1 });
      }
      const pub = await connect(h.url, { version });
      clients.push(pub);
      for (const t of topics) await publish(pub, t, t, { qos: 1 });
      for (const [i, [filter, expected]] of table.entries()) {
        await cols[i]!.waitFor(expected.length, 5000).catch((e: Error) => { throw new Error(`filter ${filter}: ${e.message}`); });
      }
      await sleep(300);
      for (const [i, [filter, expected]] of table.entries()) {
        assert.deepEqual(cols[i]!.topics().sort(), [...expected].sort(), `topics received by filter "${filter}"`);
      }
    } finally { await endAll(clients); }
  });

  test('[MQTT-4.7.2-1] "#" and "+/…" do not match topics beginning with "$"; "$SYS/#" does', async () => {
    const all = await connect(h.url, { version });
    const plus = await connect(h.url, { version });
    const sys = await connect(h.url, { version });
    try {
      const cAll = collect(all);
      const cPlus = collect(plus);
      const cSys = collect(sys);
      await subscribe(all, '#', { qos: 0 });
      await subscribe(plus, '+/broker/#', { qos: 0 });
      await subscribe(plus, '+/+/+', { qos: 0 });
      await subscribe(sys, '$SYS/#', { qos: 0 });
      await cSys.waitFor(1, 4000); // $SYS is being published (positive control)
      await sleep(1500);           // at least one more $SYS interval
      const leaked = (c: typeof cAll) => c.topics().filter((t) => t.startsWith('$'));
      assert.deepEqual(leaked(cAll), [], '"#" received $-topics');
      assert.deepEqual(leaked(cPlus), [], '"+/broker/#" or "+/+/+" received $-topics');
      // The "#" subscriber does work for ordinary topics.
      const t = uid('plain');
      await publish(sys, t, 'x', { qos: 1 });
      await cAll.waitFor(1, 3000, (m) => m.topic === t);
    } finally { await endAll([all, plus, sys]); }
  });

  const invalid = ['a/#/b', 'a+', '#a', 'a/b#', '+a/b', ''];

  test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] invalid filters are never granted (SUBACK failure or close) and match nothing', async () => {
    for (const bad of invalid) {
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('inv') });
      try {
        c.send(buildSubscribe({ version, id: 9, filters: [{ topic: bad, options: 1 }] }));
        const f = await Promise.race([c.next(3000, 'SUBACK or close'), c.expectClose(3000).then(() => undefined)]).catch(() => undefined);
        if (f && f.cmd === 'suback') {
          const granted = (f as Received & { granted: number[] }).granted;
          assert.ok(granted[0]! >= 0x80, `filter ${JSON.stringify(bad)} was granted: ${describeFrame(f)}`);
        } else if (f) {
          assert.equal(f.cmd, 'disconnect', `filter ${JSON.stringify(bad)}: unexpected ${describeFrame(f)}`);
          assert.ok((codeOf(f) ?? 0) >= 0x80);
          assert.ok(await c.closesWithin(2000), 'DISCONNECT must be followed by close');
        } else {
          assert.ok(c.closed, `filter ${JSON.stringify(bad)}: neither SUBACK nor close within 3 s: ${c.history()}`);
        }
      } finally { c.destroy(); }
    }
  });

  test(`invalid filter in a multi-filter SUBSCRIBE: SUBACK ${version === 5 ? '0x8F' : '0x80'} for it, the others granted (Shoal contract)`,
    isMosquitto ? { skip: 'mosquitto deviates: closes the connection (v5: DISCONNECT 0x81) instead of a SUBACK failure code' } : {}, async () => {
      for (const bad of invalid) {
        const { c } = await RawClient.connect(h.port, { version, clientId: uid('inv') });
        try {
          const base = uid('okf');
          c.send(buildSubscribe({ version, id: 11, filters: [{ topic: `${base}/1`, options: 1 }, { topic: bad, options: 1 }, { topic: `${base}/2`, options: 2 }] }));
          const ack = await c.expectPacket('suback', 3000) as Received & { messageId: number; granted: number[] };
          assert.equal(ack.messageId, 11);
          assert.deepEqual(ack.granted, [1, version === 5 ? 0x8f : 0x80, 2], `filter ${JSON.stringify(bad)}: ${describeFrame(ack)}`);
          // The connection stays usable and the valid filters work.
          c.send(buildPublish({ version, topic: `${base}/2`, payload: 'still here', qos: 0 }));
          const p = await c.expectPacket('publish') as Pub;
          assert.equal(p.topic, `${base}/2`);
        } finally { c.disconnect(); }
      }
    });

  test('[MQTT-3.10.4-4] [MQTT-3.10.4-1] UNSUBACK echoes the packet id and deliveries stop', async () => {
    const topic = uid('unsub');
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('u') });
    const pub = await connect(h.url, { version });
    try {
      await c.subscribe(topic, 1);
      await publish(pub, topic, 'before', { qos: 1 });
      const p = await c.expectPacket('publish') as Pub;
      assert.equal(p.payload.toString(), 'before');
      await c.ack(p);
      c.sendPacket({ cmd: 'unsubscribe', messageId: 0x0a0b, unsubscriptions: [topic] });
      const ack = await c.expectPacket('unsuback');
      assert.equal((ack as Pub).messageId, 0x0a0b);
      if (version === 4) assert.equal(hex(ack.raw), 'b0 02 0a 0b');
      else assert.deepEqual((ack as Received & { granted: number[] }).granted, [0x00], `UNSUBACK reason codes: ${describeFrame(ack)}`);
      await publish(pub, topic, 'after', { qos: 1 });
      await c.expectNothing(500);
    } finally { c.disconnect(); await end(pub); }
  });

  test(`[MQTT-3.10.4-5] UNSUBSCRIBE of a filter never subscribed still gets UNSUBACK${version === 5 ? ' (reason 0x11)' : ''}`, async () => {
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('u0') });
    try {
      c.sendPacket({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: [uid('never'), uid('never2')] });
      const ack = await c.expectPacket('unsuback');
      assert.equal((ack as Pub).messageId, 3);
      if (version === 5) assert.deepEqual((ack as Received & { granted: number[] }).granted, [0x11, 0x11], describeFrame(ack));
    } finally { c.disconnect(); }
  });

  test('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription (new QoS, one copy)', async () => {
    const topic = uid('resub');
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('rs') });
    const pub = await connect(h.url, { version });
    try {
      assert.deepEqual(await c.subscribe(topic, 0), [0]);
      assert.deepEqual(await c.subscribe(topic, 2), [2]);
      await publish(pub, topic, 'q2', { qos: 2 });
      const p = await c.expectPacket('publish') as Pub;
      assert.equal(p.qos, 2, 'delivered with the replacing subscription QoS');
      await c.ack(p);
      await c.expectNothing(500); // and only one copy
    } finally { c.disconnect(); await end(pub); }
  });

  test(`${version === 5 ? '[MQTT-3.3.4-2]' : '[MQTT-3.3.5-1]'} overlapping subscriptions: delivered respecting the maximum QoS of the matches, at most one copy per subscription`,
    isMosquitto && version === 4 ? { skip: 'mosquitto deviates: with 3.1.1 it sends one copy at the QoS of one matching subscription (1), not the maximum (2)' } : {}, async () => {
    const base = uid('ovl');
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('ov') });
    const pub = await connect(h.url, { version });
    try {
      await c.subscribe([{ topic: `${base}/+`, qos: 1 }, { topic: `${base}/#`, qos: 2 }]);
      await publish(pub, `${base}/x`, 'overlap', { qos: 2 });
      const got: Pub[] = [];
      got.push(await c.expectPacket('publish') as Pub);
      await c.ack(got[0]!);
      try {
        const more = await c.next(700);
        assert.equal(more.cmd, 'publish', `unexpected ${describeFrame(more)}`);
        got.push(more as Pub);
        await c.ack(more as Pub);
      } catch (e) { if (!(e as Error).message.startsWith('timed out')) throw e; }
      assert.ok(got.length <= 2, `at most one copy per matching subscription, got ${got.length}`);
      assert.equal(Math.max(...got.map((g) => g.qos)), 2, `a copy at QoS 2 must be delivered: ${got.map(describeFrame).join('; ')}`);
      await c.expectNothing(300);
    } finally { c.disconnect(); await end(pub); }
  });

  test('several subscribers to one filter each receive one copy', async () => {
    const topic = uid('many');
    const subs: MqttClient[] = [];
    try {
      const cols = [];
      for (let i = 0; i < 5; i++) {
        const s = await connect(h.url, { version });
        subs.push(s);
        cols.push(collect(s));
        await subscribe(s, topic, { qos: 1 });
      }
      const pub = await connect(h.url, { version });
      subs.push(pub);
      await publish(pub, topic, 'fan', { qos: 1 });
      for (const col of cols) await col.waitFor(1, 3000);
      await sleep(300);
      for (const [i, col] of cols.entries()) assert.equal(col.messages.length, 1, `subscriber ${i} copies`);
    } finally { await endAll(subs); }
  });

  if (version === 5) {
    test('[MQTT-3.8.3-3] No Local: own publications are not delivered, others are', async () => {
      const topic = uid('nl');
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('nl') });
      const other = await connect(h.url, { version });
      try {
        await c.subscribe([{ topic, qos: 1, nl: true }]);
        c.send(buildPublish({ version, topic, payload: 'mine', qos: 1, id: 5 }));
        await c.expectPacket('puback');
        await publish(other, topic, 'theirs', { qos: 1 });
        const p = await c.expectPacket('publish') as Pub;
        assert.equal(p.payload.toString(), 'theirs', 'the first delivery must be the other client\'s message');
        await c.ack(p);
        await c.expectNothing(400);
      } finally { c.disconnect(); await end(other); }
    });

    test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] Subscription Identifiers are sent with matching messages', async () => {
      const base = uid('sid');
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('si') });
      const pub = await connect(h.url, { version });
      try {
        c.sendPacket({ cmd: 'subscribe', messageId: 21, properties: { subscriptionIdentifier: 7 }, subscriptions: [{ topic: `${base}/+`, qos: 1 }] });
        await c.expectPacket('suback');
        c.sendPacket({ cmd: 'subscribe', messageId: 22, properties: { subscriptionIdentifier: 300 }, subscriptions: [{ topic: `${base}/#`, qos: 1 }] });
        await c.expectPacket('suback');
        await publish(pub, `${base}/x`, 'ids', { qos: 1 });
        const ids: number[] = [];
        const first = await c.expectPacket('publish') as Pub;
        await c.ack(first);
        const asList = (p: Pub) => { const v = p.properties?.subscriptionIdentifier; return v === undefined ? [] : Array.isArray(v) ? v : [v]; };
        ids.push(...asList(first));
        if (ids.length < 2) {
          const second = await c.expectPacket('publish', 2000) as Pub;
          await c.ack(second);
          ids.push(...asList(second));
        }
        assert.deepEqual(ids.sort((a, b) => a - b), [7, 300], 'identifiers of both matching subscriptions');
        // Only the identifier of a matching subscription: a topic matched by "#" only.
        await publish(pub, `${base}/x/y`, 'deep', { qos: 1 });
        const deep = await c.expectPacket('publish') as Pub;
        await c.ack(deep);
        assert.deepEqual(asList(deep), [300]);
      } finally { c.disconnect(); await end(pub); }
    });
  }

  test('unsubscribing one of two overlapping filters keeps the other', async () => {
    const base = uid('keep');
    const c = await connect(h.url, { version });
    const pub = await connect(h.url, { version });
    try {
      const col = collect(c);
      await subscribe(c, [`${base}/+`, `${base}/#`], { qos: 1 });
      await unsubscribe(c, `${base}/+`);
      await publish(pub, `${base}/x`, 'still', { qos: 1 });
      await col.waitFor(1, 3000);
      await sleep(300);
      assert.equal(col.messages.length, 1);
    } finally { await endAll([c, pub]); }
  });

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
});

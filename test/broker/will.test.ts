// Will messages: published when a connection ends without a normal DISCONNECT, not otherwise.
// Socket dropped, keep-alive expiry, protocol error (also a malformed DISCONNECT); not after
// DISCONNECT; v5 DISCONNECT 0x04 sends it; Will Retain and Will QoS honoured; v5 Will Delay
// Interval; v5 Will properties kept (user properties in order). The watcher and the client with
// the will are separate connections (different shards with 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, buildConnect, prop, publishProperties, describeFrame, closedWith, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, end, uid, sleep, type Collector, type MqttClient } from '../helpers/clients.ts';

/** v5 property bytes: Will Delay Interval (0x18, four-byte integer). */
function willDelay(seconds: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x18;
  b.writeUInt32BE(seconds, 1);
  return b;
}
/** v5 property bytes: Session Expiry Interval (0x11, four-byte integer). */
function sessionExpiry(seconds: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x11;
  b.writeUInt32BE(seconds, 1);
  return b;
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  async function watch(topic: string, qos: 0 | 1 | 2 = 2): Promise<{ w: MqttClient; col: Collector }> {
    const w = await connect(h.url, { version });
    const col = collect(w);
    await subscribe(w, topic, { qos });
    return { w, col };
  }

  async function withWill(topic: string, opts: { qos?: number; retain?: boolean; keepalive?: number; clientId?: string; clean?: boolean; willProps?: Buffer; props?: Buffer } = {}): Promise<RawClient> {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({
      version, clientId: opts.clientId ?? uid('will'), keepalive: opts.keepalive ?? 0, clean: opts.clean ?? true,
      will: { topic, payload: `will of ${topic}`, qos: opts.qos ?? 1, retain: opts.retain ?? false, properties: opts.willProps },
      properties: opts.props,
    }));
    const ack = await c.expectPacket('connack');
    assert.equal((ack as unknown as { returnCode?: number; reasonCode?: number }).returnCode ?? (ack as unknown as { reasonCode?: number }).reasonCode, 0, describeFrame(ack));
    return c;
  }

  test('[MQTT-3.1.2-8] will is published when the network connection drops without DISCONNECT', async () => {
    const topic = uid('w-drop');
    const { w, col } = await watch(topic);
    try {
      const c = await withWill(topic, { qos: 1 });
      c.destroy();
      const [m] = await col.waitFor(1, 5000);
      assert.equal(m!.payload.toString(), `will of ${topic}`);
      assert.equal(m!.packet.qos, 1, 'delivered at min(will QoS 1, subscription QoS 2)');
      assert.equal(m!.packet.retain, false);
      await sleep(300);
      assert.equal(col.messages.length, 1, 'published once');
    } finally { await end(w); }
  });

  test('[MQTT-3.1.2-10] will is not published after a normal DISCONNECT', async () => {
    const topic = uid('w-disc');
    const { w, col } = await watch(topic);
    try {
      const c = await withWill(topic);
      c.disconnect(0);
      await c.expectClose(3000);
      await assert.rejects(col.waitFor(1, 1500), 'will must be discarded on DISCONNECT');
    } finally { await end(w); }
  });

  if (version === 5) {
    test('[MQTT-3.14.4-3] DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will', async () => {
      const topic = uid('w-04');
      const { w, col } = await watch(topic);
      try {
        const c = await withWill(topic);
        c.disconnect(0x04);
        const [m] = await col.waitFor(1, 5000);
        assert.equal(m!.payload.toString(), `will of ${topic}`);
      } finally { await end(w); }
    });
  }

  test('[MQTT-3.1.2-8] [MQTT-3.1.2-24] keep-alive expiry publishes the will', async () => {
    const topic = uid('w-ka');
    const { w, col } = await watch(topic);
    try {
      const c = await withWill(topic, { keepalive: 1 });
      // The timing bound (1.5 × keep-alive) is keepalive.test.ts's subject; here: the will comes.
      const [m] = await col.waitFor(1, 8000);
      assert.equal(m!.payload.toString(), `will of ${topic}`);
      assert.ok(await c.closesWithin(2000), 'connection closed on keep-alive expiry');
    } finally { await end(w); }
  });

  test('[MQTT-3.1.2-8] a connection the server closes for a protocol error publishes the will', async () => {
    const topic = uid('w-err');
    const { w, col } = await watch(topic);
    try {
      const c = await withWill(topic);
      c.send('36 07 00 03 61 2f 62 00 01'); // PUBLISH with QoS 3: malformed
      await c.expectClose(5000);
      const [m] = await col.waitFor(1, 5000);
      assert.equal(m!.payload.toString(), `will of ${topic}`);
    } finally { await end(w); }
  });

  test(`${version === 5 ? '[MQTT-3.1.2-15]' : '[MQTT-3.1.2-17]'} Will Retain 1: the will is published as a retained message`, async () => {
    const topic = uid('w-ret');
    const c = await withWill(topic, { retain: true, qos: 1 });
    c.destroy();
    await sleep(300);
    const { w, col } = await watch(topic, 1);
    try {
      const [m] = await col.waitFor(1, 5000);
      assert.equal(m!.payload.toString(), `will of ${topic}`);
      assert.equal(m!.packet.retain, true, 'retained will is sent with RETAIN=1 to a new subscriber');
      await publish(w, topic, '', { qos: 1, retain: true });
    } finally { await end(w); }
  });

  test(`${version === 5 ? '[MQTT-3.1.2-14]' : '[MQTT-3.1.2-16]'} Will Retain 0: the will is not retained`, async () => {
    const topic = uid('w-noret');
    const { w, col } = await watch(topic);
    try {
      const c = await withWill(topic, { retain: false });
      c.destroy();
      await col.waitFor(1, 5000);
    } finally { await end(w); }
    const late = await watch(topic);
    try {
      await assert.rejects(late.col.waitFor(1, 600), 'a non-retained will must not be stored');
    } finally { await end(late.w); }
  });

  test('Will QoS 2 to a QoS 2 subscriber and Will QoS 0 to a QoS 2 subscriber', async () => {
    const t2 = uid('w-q2');
    const t0 = uid('w-q0');
    const { w, col } = await watch(`${t2}`, 2);
    await subscribe(w, t0, { qos: 2 });
    try {
      const a = await withWill(t2, { qos: 2 });
      const b = await withWill(t0, { qos: 0 });
      a.destroy();
      b.destroy();
      const got = await col.waitFor(2, 5000);
      const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.packet.qos]));
      assert.deepEqual(byTopic, { [t2]: 2, [t0]: 0 });
    } finally { await end(w); }
  });

  if (version === 5) {
    test('[MQTT-3.1.3-9] Will Delay Interval: not published if the client reconnects within the delay', async () => {
      const topic = uid('w-delay-re');
      const id = uid('wdr');
      const { w, col } = await watch(topic);
      try {
        const c = await withWill(topic, { clientId: id, clean: false, willProps: willDelay(2), props: sessionExpiry(30) });
        c.destroy();
        await sleep(300);
        const again = await RawClient.connect(h.port, { version, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
        try {
          await assert.rejects(col.waitFor(1, 2800), 'will published although the client came back within the delay');
        } finally { again.c.disconnect(); }
      } finally { await end(w); }
    });

    test('[MQTT-3.1.2-8] Will Delay Interval: published after the delay, not before', async () => {
      const topic = uid('w-delay');
      const { w, col } = await watch(topic);
      try {
        const c = await withWill(topic, { clientId: uid('wd'), clean: false, willProps: willDelay(2), props: sessionExpiry(30) });
        const t0 = Date.now();
        c.destroy();
        const [m] = await col.waitFor(1, 6000);
        const after = m!.at - t0;
        assert.ok(after >= 1500, `will published ${after} ms after the drop; delay is 2 s`);
        assert.equal(m!.payload.toString(), `will of ${topic}`);
      } finally { await end(w); }
    });

    test('[MQTT-3.1.2-8] Will Delay Interval longer than the session: published when the session ends (3.1.3.2.2)',
      mosquittoDeviates('waits the full Will Delay Interval although the session (expiry 0) ended at the close'), async () => {
      const topic = uid('w-sess');
      const { w, col } = await watch(topic);
      try {
        const c = await withWill(topic, { clientId: uid('ws'), clean: true, willProps: willDelay(30) }); // session expiry 0
        c.destroy();
        const [m] = await col.waitFor(1, 4000);
        assert.equal(m!.payload.toString(), `will of ${topic}`);
      } finally { await end(w); }
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
  }
});

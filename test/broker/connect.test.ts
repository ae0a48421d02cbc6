// CONNECT / CONNACK: what the first packet must be and what the broker answers; graceful shutdown.
// Validation of the first packet, client identifiers (empty, 23 characters, too long), flags,
// will and user name fields (also not UTF-8), protocol names and levels (3.1 'MQIsdp' level 3,
// 3.1.1, 5.0), second CONNECT; SIGTERM closing every connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, versionName } from '../helpers/matrix.ts';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildConnect, buildPublish, codeOf, describeFrame, hex, type Frame, type Received } from '../helpers/raw.ts';
import { connect, connectClient, collect, subscribe, publish, end, uid, roundTrip } from '../helpers/clients.ts';

/** Packets received before a close must not include a successful CONNACK. */
function assertNotAccepted(frames: Frame[], what: string): void {
  for (const f of frames) {
    if (f.cmd === 'connack') assert.notEqual(codeOf(f), 0, `${what}: connection was accepted: ${describeFrame(f)}`);
  }
}

/**
 * A refused CONNECT: the server may answer with a CONNACK carrying an error code (v5: >= 0x80,
 * [MQTT-3.2.2-6]/4.13; 3.1.1: 0x01–0x05) before it closes; nothing else (v5 [MQTT-3.2.0-2]: no
 * DISCONNECT before a successful CONNACK).
 */
function assertConnectRefused(frames: Frame[], what: string): void {
  for (const f of frames) {
    assert.equal(f.cmd, 'connack', `${what}: only a CONNACK may precede the close, got ${describeFrame(f)}`);
    const rc = codeOf(f) ?? 0;
    assert.notEqual(rc, 0, `${what}: connection was accepted: ${describeFrame(f)}`);
  }
}

/** v5: a packet sent before the server closes may only be a DISCONNECT with an error reason. */
function assertOnlyErrorDisconnect(frames: Frame[], what: string, allowed?: number[]): void {
  for (const f of frames) {
    assert.equal(f.cmd, 'disconnect', `${what}: unexpected packet before close: ${describeFrame(f)}`);
    const rc = codeOf(f) ?? 0;
    assert.ok(rc >= 0x80, `${what}: DISCONNECT reason must be an error (>= 0x80), got 0x${rc.toString(16)}`);
    if (allowed) assert.ok(allowed.includes(rc), `${what}: DISCONNECT reason 0x${rc.toString(16)} not in ${allowed.map((x) => '0x' + x.toString(16)).join('/')}`);
  }
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v5 = version === 5;

  test('[MQTT-3.2.0-1] [MQTT-3.2.2-1] clean CONNECT gets CONNACK 0x00 with Session Present 0', async () => {
    const { c, connack } = await RawClient.connect(h.port, { version, clientId: uid('ok'), clean: true });
    try {
      assert.equal(codeOf(connack as Frame), 0);
      assert.equal(connack.sessionPresent, false);
      if (version === 4) assert.equal(hex(connack.raw), '20 02 00 00', 'v3.1.1 CONNACK bytes');
      else assert.equal(connack.raw[2], 0x00, 'v5 CONNACK acknowledge flags');
    } finally { c.disconnect(); }
  });

  test('[MQTT-3.1.0-1] first packet not CONNECT (PINGREQ) closes the connection', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send('c0 00');
    const before = await c.expectClose(5000);
    assert.ok(!before.some((f) => f.cmd === 'pingresp'), `PINGRESP must not be sent before CONNECT: ${c.history()}`);
  });

  test('[MQTT-3.1.0-1] first packet not CONNECT (PUBLISH) closes the connection and is not delivered', async () => {
    const topic = uid('pre-connect');
    const watcher = await connect(h.url, { version });
    try {
      const col = collect(watcher);
      await subscribe(watcher, topic, { qos: 0 });
      const c = await RawClient.open(h.port, { version });
      c.send(buildPublish({ version, topic, payload: 'must not be routed' }));
      await c.expectClose(5000);
      await assert.rejects(col.waitFor(1, 500), 'a PUBLISH before CONNECT was routed');
    } finally { await end(watcher); }
  });

  test('[MQTT-3.1.0-2] second CONNECT is a protocol violation: connection closed', async () => {
    const id = uid('twice');
    const { c } = await RawClient.connect(h.port, { version, clientId: id });
    c.send(buildConnect({ version, clientId: id }));
    const before = await c.expectClose(5000);
    assertNotAccepted(before, 'second CONNECT');
    if (version === 5) assertOnlyErrorDisconnect(before, 'second CONNECT', [0x82]);
    await roundTrip(h.url, version);
  });

  if (version === 5) {
    test('second CONNECT: v5 DISCONNECT 0x82 (Protocol Error) before the close (Shoal contract; [MQTT-4.13.1-1] allows it)',
      isMosquitto ? { skip: 'mosquitto closes without the optional DISCONNECT' } : {}, async () => {
        const id = uid('twice5');
        const { c } = await RawClient.connect(h.port, { version, clientId: id });
        c.send(buildConnect({ version, clientId: id }));
        const before = await c.expectClose(5000);
        assert.equal(before.length, 1, `expected exactly one DISCONNECT before close, got: ${c.history()}`);
        assert.equal(before[0]!.cmd, 'disconnect');
        assert.equal(codeOf(before[0]!), 0x82);
      });
  }

  test('[MQTT-3.1.2-1] protocol name other than "MQTT" is not accepted and the connection is closed', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version, protocolName: 'MQTX', clientId: uid('name') }));
    assertConnectRefused(await c.expectClose(5000), 'protocol name MQTX');
  });

  test('[MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 (v3.1.1 format) / 0x84, then close', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version: 4, level: 7, clientId: uid('lvl') }));
    const before = await c.expectClose(5000);
    assertNotAccepted(before, 'protocol level 7');
    if (version === 4) {
      // The level is unknown, so the v3.1.1 reply format applies: 20 02 00 01 [MQTT-3.1.2-2].
      assert.equal(before.length, 1, `expected one CONNACK before close, got: ${c.history()}`);
      assert.equal(hex(before[0]!.raw), '20 02 00 01', 'CONNACK 0x01 unacceptable protocol version');
    } else {
      for (const f of before) {
        const ok = hex(f.raw) === '20 02 00 01' || (f.raw[0] === 0x20 && f.raw[3] === 0x84);
        assert.ok(ok, `only CONNACK 0x01 / 0x84 may precede the close, got [${hex(f.raw)}]`);
      }
    }
  });

  test('[MQTT-3.1.2-3] reserved CONNECT flag set closes the connection', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version, clientId: uid('rsv'), orFlags: 0x01 }));
    assertConnectRefused(await c.expectClose(5000), 'reserved flag');
  });

  test('[MQTT-3.1.2-13] Will QoS non-zero without Will Flag closes the connection', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version, clientId: uid('wq'), orFlags: 1 << 3 }));
    assertConnectRefused(await c.expectClose(5000), 'will qos without will flag');
  });

  test('[MQTT-3.1.2-14] Will QoS 3 closes the connection', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version, clientId: uid('wq3'), will: { topic: uid('w'), payload: 'x', qos: 3 } }));
    assertConnectRefused(await c.expectClose(5000), 'will qos 3');
  });

  test('[MQTT-3.1.2-15] Will Retain without Will Flag closes the connection', async () => {
    const c = await RawClient.open(h.port, { version });
    c.send(buildConnect({ version, clientId: uid('wr'), orFlags: 0x20 }));
    assertConnectRefused(await c.expectClose(5000), 'will retain without will flag');
  });

  if (version === 4) {
    test('[MQTT-3.1.3-8] empty client id with clean session 0 is rejected: CONNACK 0x02, then close', async () => {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: '', clean: false }));
      const before = await c.expectClose(5000);
      assert.equal(before.length, 1, `expected one CONNACK, got: ${c.history()}`);
      assert.equal(hex(before[0]!.raw), '20 02 00 02', 'CONNACK 0x02 identifier rejected');
    });

    test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] empty client id with clean session 1 is accepted', async () => {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: '', clean: true }));
      const ack = await c.expectPacket('connack');
      assert.equal(hex(ack.raw), '20 02 00 00');
      // And it is a working session: PINGREQ answered.
      c.send('c0 00');
      await c.expectPacket('pingresp');
      c.disconnect();
    });

    test('[MQTT-3.1.2-22] password flag without user name flag closes the connection', async () => {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: uid('pw'), password: 'secret' }));
      assertConnectRefused(await c.expectClose(5000), 'password without username');
    });
  } else {
    test('[MQTT-3.1.3-6] [MQTT-3.2.2-16] empty client id: accepted with a unique Assigned Client Identifier', async () => {
      const a = await RawClient.connect(h.port, { version, clientId: '' });
      const b = await RawClient.connect(h.port, { version, clientId: '' });
      try {
        const ida = a.connack.properties?.assignedClientIdentifier;
        const idb = b.connack.properties?.assignedClientIdentifier;
        assert.ok(ida && ida.length > 0, `first CONNACK lacks Assigned Client Identifier: ${describeFrame(a.connack as Frame)}`);
        assert.ok(idb && idb.length > 0, `second CONNACK lacks Assigned Client Identifier: ${describeFrame(b.connack as Frame)}`);
        assert.notEqual(ida, idb, 'assigned client identifiers must be unique');
        // Both sessions live side by side: neither was taken over.
        a.c.send('c0 00');
        b.c.send('c0 00');
        await a.c.expectPacket('pingresp');
        await b.c.expectPacket('pingresp');
      } finally { a.c.disconnect(); b.c.disconnect(); }
    });

    test('v5 3.1.2.9: password without user name is allowed', async () => {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: uid('pw5'), password: 'secret' }));
      const ack = await c.expectPacket('connack');
      assert.equal(codeOf(ack), 0, describeFrame(ack));
      c.disconnect();
    });
  }

  test('[MQTT-3.1.3-5] client id of 23 characters [0-9a-zA-Z] is accepted', async () => {
    const id = ('Z' + Date.now().toString(36) + 'abcdefghijklmnopqrstuvwxyz0123456789').slice(0, 23);
    const { c, connack } = await RawClient.connect(h.port, { version, clientId: id });
    assert.equal(codeOf(connack as Frame), 0);
    c.disconnect();
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

  test('user name and password are accepted by default (anonymous broker)', async () => {
    const { client, connack } = await connectClient(h.url, { version, username: 'alice', password: Buffer.from('s3cret') });
    try {
      assert.equal(connack.returnCode ?? connack.reasonCode ?? 0, 0);
    } finally { await end(client); }
  });

  test('MQTT 3.1: protocol name "MQIsdp" level 3 is accepted and interoperates', async () => {
    const topic = uid('v31');
    const id = ('m31' + Math.random().toString(36).slice(2)).slice(0, 20); // 3.1 ids are at most 23 bytes
    const { c, connack } = await RawClient.connect(h.port, { version: 3, clientId: id });
    const other = await connect(h.url, { version });
    try {
      assert.equal(hex(connack.raw), '20 02 00 00', 'MQTT 3.1 CONNACK');
      // 3.1 subscriber receives from a current-version publisher ...
      c.sendPacket({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic, qos: 1 }] });
      const suback = await c.expectPacket('suback');
      assert.equal(hex(suback.raw), '90 03 00 05 01');
      await publish(other, topic, 'to 3.1', { qos: 1 });
      const p = await c.expectPacket('publish') as Received & { payload: Buffer; qos: number; messageId?: number };
      assert.equal(p.payload.toString(), 'to 3.1');
      assert.equal(p.qos, 1);
      c.sendPacket({ cmd: 'puback', messageId: p.messageId! });
      // ... and a current-version subscriber receives from the 3.1 publisher.
      const col = collect(other);
      await subscribe(other, topic + '/back', { qos: 0 });
      c.send(buildPublish({ version: 4, topic: topic + '/back', payload: 'from 3.1' }));
      const [m] = await col.waitFor(1, 3000);
      assert.equal(m!.payload.toString(), 'from 3.1');
    } finally {
      c.disconnect();
      await end(other);
    }
  });
});

// Graceful shutdown: SIGTERM closes every connection and the process exits 0; v5 clients get
// DISCONNECT 0x8B (Server shutting down) first (Shoal's contract; the spec allows it, 4.13).
for (const shards of (isMosquitto ? [1] : [1, 4])) {
  describe(`graceful shutdown, ${shards} shard${shards > 1 ? 's' : ''}`, () => {
    async function shutdownWithClients(): Promise<{ v5: RawClient[]; v4: RawClient; code: number | null; stderr: string }> {
      const b = await startBroker({ shards });
      try {
        const v5: RawClient[] = [];
        for (let i = 0; i < 4; i++) v5.push((await RawClient.connect(b.port, { version: 5, clientId: uid('sd5') })).c);
        const v4 = (await RawClient.connect(b.port, { version: 4, clientId: uid('sd4') })).c;
        const code = await b.stop();
        return { v5, v4, code, stderr: b.stderr() };
      } finally {
        await b.kill('SIGKILL');
      }
    }

    test('SIGTERM closes every connection and exits with code 0', async () => {
      const { v5, v4, code, stderr } = await shutdownWithClients();
      assert.equal(code, 0, `exit code after SIGTERM\nstderr:\n${stderr.slice(-2000)}`);
      for (const c of v5) {
        const before = await c.expectClose(2000);
        assertOnlyErrorDisconnect(before, 'v5 client at shutdown', [0x8b]);
      }
      const before4 = await v4.expectClose(2000);
      assert.ok(!before4.some((f) => f.cmd === 'disconnect'), `v3.1.1 servers never send DISCONNECT: ${v4.history()}`);
    });

    test('SIGTERM: every v5 client gets DISCONNECT 0x8B (Server shutting down) before the close',
      isMosquitto ? { skip: 'mosquitto 2.0.11 closes without the optional DISCONNECT 0x8B' } : {}, async () => {
        const { v5 } = await shutdownWithClients();
        for (const c of v5) {
          const before = await c.expectClose(2000);
          assert.ok(before.some((f) => f.cmd === 'disconnect' && codeOf(f) === 0x8b),
            `${versionName(5)} client: expected DISCONNECT 0x8B before close, got: ${c.history()}`);
        }
      });
  });
}

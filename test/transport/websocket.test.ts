// MQTT over WebSocket (--ws-port) and WebSocket over TLS (--wss-port), MQTT 5.0 §6: MQTT.js
// over ws:// and wss:// (3.1.1 and 5), the subprotocol negotiation (mqtt, mqttv3.1), packets
// that span WebSocket messages and messages that hold several packets, binary frames only,
// keep-alive, and --ws-path. 2 shards; the upgrade runs in the shard owning the connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker, versionName } from '../helpers/matrix.ts';
import { connect, collect, subscribe, publish, endAll, uid, withTimeout } from '../helpers/clients.ts';
import { hasOpenssl, skipWithoutOpenssl, testCerts, transportArgs } from '../helpers/tls.ts';
import { encode, openRawWs } from '../helpers/ws.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own WebSocket flags' : false);

describe('MQTT over WebSocket (ws, wss)', { skip }, () => {
  const h = useBroker({ shards: 2, extraArgs: certs === null ? [] : transportArgs(certs) });

  for (const version of [4, 5] as const) {
    for (const scheme of ['ws', 'wss']) {
      test(`${versionName(version)}: MQTT.js over ${scheme}:// publishes and receives QoS 0, 1 and 2`, async () => {
        const url = `${h.broker.urls[scheme]}/mqtt`;
        const opts = { version, ca: certs!.ca };
        const topic = uid(`${scheme}/qos`);
        const sub = await connect(url, opts);
        const pub = await connect(url, opts);
        try {
          const col = collect(sub);
          await subscribe(sub, topic, { qos: 2 });
          for (const qos of [0, 1, 2] as const) await publish(pub, topic, Buffer.alloc(qos * 40_000 + 1, qos), { qos });
          const got = await col.waitFor(3);
          assert.deepEqual(got.map((m) => [m.payload.length, m.packet.qos]), [[1, 0], [40_001, 1], [80_001, 2]]);
        } finally { await endAll([sub, pub]); }
      });
    }
  }

  test('the subprotocol is mqtt when offered, mqttv3.1 when only that is offered', async () => {
    const a = await openRawWs(h.broker.urls.ws!, ['chat', 'mqttv3.1', 'mqtt']);
    const b = await openRawWs(h.broker.urls.ws!, ['mqttv3.1']);
    try {
      assert.equal(a.ws.protocol, 'mqtt');
      assert.equal(b.ws.protocol, 'mqttv3.1');
    } finally { a.ws.terminate(); b.ws.terminate(); }
  });

  for (const version of [4, 5] as const) {
    test(`${versionName(version)}: a packet may span WebSocket messages and a message may hold several packets; the broker sends binary messages`, async () => {
      const topic = uid('ws/split');
      const c = await openRawWs(h.broker.urls.ws!, ['mqtt'], version);
      try {
        const connectBytes = encode({ cmd: 'connect', protocolVersion: version, protocolId: 'MQTT', clientId: uid('raw'), clean: true, keepalive: 30 }, version);
        // CONNECT in three messages: one byte, a few, the rest.
        c.ws.send(connectBytes.subarray(0, 1));
        c.ws.send(connectBytes.subarray(1, 5));
        c.ws.send(connectBytes.subarray(5));
        assert.equal((await c.expect('connack')).cmd, 'connack');
        // SUBSCRIBE, PUBLISH QoS 1 and the first half of a PINGREQ in one message, the rest in the next.
        const sub = encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }, version);
        const pub = encode({ cmd: 'publish', topic, payload: Buffer.from('both ways'), qos: 1, messageId: 2, retain: false, dup: false }, version);
        const ping = encode({ cmd: 'pingreq' }, version);
        c.ws.send(Buffer.concat([sub, pub, ping.subarray(0, 1)]));
        c.ws.send(ping.subarray(1));
        await c.expect('suback');
        await c.expect('puback');
        const back = await c.expect('publish') as { payload: Buffer; topic: string };
        assert.equal(back.topic, topic);
        assert.equal(back.payload.toString(), 'both ways');
        await c.expect('pingresp');
        assert.equal(c.textMessages, 0, 'every message from the broker is binary');
      } finally { c.ws.terminate(); }
    });
  }

  test('[MQTT-6.0.0-1] a text message closes the connection', async () => {
    const c = await openRawWs(h.broker.urls.ws!, ['mqtt']);
    c.ws.send(encode({ cmd: 'connect', protocolVersion: 4, protocolId: 'MQTT', clientId: uid('txt'), clean: true, keepalive: 30 }));
    await c.expect('connack');
    c.ws.send('\u00c0\u0000'); // a PINGREQ, but as text
    await withTimeout(c.closed, 3000, 'close after a text message');
  });

  test('keep-alive applies over WebSocket: a client silent for 1.5 × its keep-alive is closed', async () => {
    const c = await openRawWs(h.broker.urls.wss!, ['mqtt'], 4, { ca: certs!.ca });
    c.ws.send(encode({ cmd: 'connect', protocolVersion: 4, protocolId: 'MQTT', clientId: uid('ka'), clean: true, keepalive: 1 }));
    await c.expect('connack');
    const t0 = Date.now();
    await withTimeout(c.closed, 5000, 'close after the keep-alive');
    assert.ok(Date.now() - t0 >= 1000, `closed after ${Date.now() - t0} ms, before 1.5 × keep-alive`);
  });
});

describe('--ws-path', { skip }, () => {
  const h = useBroker({ shards: 1, extraArgs: ['--ws-port', '0', '--ws-path', '/mqtt'] });

  test('an upgrade for the configured path is accepted (query string ignored), any other path gets 404', async () => {
    const base = h.broker.urls.ws!.replace(/\/mqtt$/, '');
    assert.equal(h.broker.urls.ws, `${base}/mqtt`, 'the start-up line names the path');
    const ok = await openRawWs(`${base}/mqtt?token=1`, ['mqtt']);
    ok.ws.terminate();
    await assert.rejects(openRawWs(`${base}/other`, ['mqtt']), /Unexpected server response: 404/);
    await assert.rejects(openRawWs(`${base}/`, ['mqtt']), /Unexpected server response: 404/);
  });
});

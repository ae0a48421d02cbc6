// A message too large for the other side is dropped, acknowledged and counted, and the bridge
// stays connected (relayed, it would end the connection and come back on every reconnect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { BridgeInfo } from '../../src/shared/admin-query.ts';
import { request } from '../admin/helpers.ts';
import { collect, connect, endAll, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';
import { Mosquitto, bridgeState, freePort, mosquittoMissing, startShoalWith, tempDir } from './helpers.ts';

test('bridge: messages larger than the other side takes are dropped and counted, the bridge stays up', { skip: mosquittoMissing, timeout: 90_000 }, async () => {
  // One mosquitto takes packets up to 1000 bytes (its v5 CONNACK says so), Shoal up to 2000, the other mosquitto any.
  const mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'), ['max_packet_size 1000']);
  const mosq2 = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'));
  const dir = tempDir('shoal-bridge-');
  const clients: MqttClient[] = [];
  let shoal;
  try {
    await mosq.start();
    await mosq2.start();
    shoal = await startShoalWith(dir, `
max-packet-size: 2000
bridges:
  - {name: v5, address: "127.0.0.1:${mosq.port}", protocol-version: "5", topics: [big/# out 2]}
  - {name: v3, address: "127.0.0.1:${mosq2.port}", protocol-version: "3.1.1", topics: [huge/# in 2]}
`, { extraArgs: ['--http-port', '0'] });
    await bridgeState(shoal.url, 'v5', '1');
    await bridgeState(shoal.url, 'v3', '1');
    const onShoal = await connect(shoal.url, { protocolVersion: 5 });
    const onMosq = await connect(mosq.url, { protocolVersion: 4 });
    const onMosq2 = await connect(mosq2.url, { protocolVersion: 4 });
    clients.push(onShoal, onMosq, onMosq2);
    const mosqGot = collect(onMosq, (t) => t.startsWith('big/'));
    const shoalGot = collect(onShoal, (t) => t.startsWith('huge/'));
    await subscribe(onMosq, 'big/#', { qos: 2 });
    await subscribe(onShoal, 'huge/#', { qos: 2 });
    for (const qos of [1, 2] as const) {
      await publish(onShoal, 'big/x', Buffer.alloc(1500, 1), { qos });
      await publish(onShoal, 'big/x', `small${qos}`, { qos });
      // A 3.1.1 bridge cannot tell the remote its limit: the bridge drops what is too large.
      await publish(onMosq2, 'huge/y', Buffer.alloc(3000, 2), { qos });
      await publish(onMosq2, 'huge/y', `fits${qos}`, { qos });
    }
    await mosqGot.waitFor(2, 10_000);
    await shoalGot.waitFor(2, 10_000);
    await sleep(500);
    assert.deepEqual(mosqGot.payloads(), ['small1', 'small2']);
    assert.deepEqual(shoalGot.payloads(), ['fits1', 'fits2']);
    const a = await request(`${shoal.urls.http}/api/v1/bridges`);
    const [v3, v5] = a.json() as BridgeInfo[];
    assert.equal(v5!.dropped, 2);
    assert.match(v5!.last_error, /larger than the remote's Maximum Packet Size 1000/);
    assert.equal(v5!.reconnects, 0);
    assert.equal(v5!.connected, true);
    assert.equal(v3!.connected, true);
    assert.equal(v3!.reconnects, 0);
    assert.equal(v3!.received, 2);
    assert.match(v3!.last_error, /larger than --max-packet-size/);
  } finally {
    await endAll(clients);
    await shoal?.stop();
    await mosq.stop();
    await mosq2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

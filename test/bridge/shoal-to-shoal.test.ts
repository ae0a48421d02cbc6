// A bridge between two Shoal brokers, v5 and 3.1.1: a `both` rule does not echo, with No Local in
// v5 and with the 3.1.1 bridge flag (try-private: level 0x84), which the remote Shoal accepts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startBroker, type Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';
import { bridgeState, crossesOnceEachWay, startShoalWith, tempDir } from './helpers.ts';

for (const version of ['5', '3.1.1'] as const) {
  describe(`bridge from Shoal to Shoal, protocol ${version}`, () => {
    let remote: Broker;
    let local: Broker;
    const clients: MqttClient[] = [];
    const dir = tempDir('shoal-bridge-s2s-');

    before(async () => {
      remote = await startBroker({ shards: 2 });
      local = await startShoalWith(dir, `
bridges:
  - name: s
    address: [127.0.0.1:1, 127.0.0.1:${remote.port}]
    protocol-version: "${version}"
    restart-timeout: "0.2 1"
    topics:
      - up/# out 2 "" site/
      - down/# in 1 "" site/
      - chat/# both 1
`, { shards: 2 });
      await bridgeState(local.url, 's', '1');
    });
    after(async () => {
      await endAll(clients);
      await local?.stop();
      await remote?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('fails over past a dead first address, then carries out and in with prefixes', async () => {
      const onLocal = await connect(local.url, { protocolVersion: 5 });
      const onRemote = await connect(remote.url, { protocolVersion: 5 });
      clients.push(onLocal, onRemote);
      const localGot = collect(onLocal);
      const remoteGot = collect(onRemote, (t) => t.startsWith('site/up/'));
      await subscribe(onRemote, 'site/#', { qos: 2 });
      await subscribe(onLocal, 'down/#', { qos: 1 });
      for (let i = 0; i < 20; i++) await publish(onLocal, `up/${i % 2}`, `u${i}`, { qos: (i % 3) as 0 | 1 | 2 });
      for (let i = 0; i < 20; i++) await publish(onRemote, 'site/down/x', `d${i}`, { qos: 1 });
      await remoteGot.waitFor(20, 10_000);
      await localGot.waitFor(20, 10_000);
      await sleep(300);
      // Once each, and in order within each QoS (MQTT orders messages of one QoS; QoS 2 takes longer).
      for (const qos of [0, 1, 2]) {
        assert.deepEqual(remoteGot.messages.filter((m) => m.packet.qos === qos).map((m) => m.payload.toString()),
          Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 3 === qos).map((i) => `u${i}`), `QoS ${qos} in order, once each`);
      }
      assert.deepEqual(remoteGot.topics().slice(0, 2), ['site/up/0', 'site/up/1']);
      assert.deepEqual(localGot.payloads(), Array.from({ length: 20 }, (_, i) => `d${i}`));
      assert.ok(localGot.topics().every((t) => t === 'down/x'));
    });

    test('both: each side sees a message once, no echo', async () => {
      await crossesOnceEachWay(local.url, remote.url, 'chat', 4, clients);
    });
  });
}

test('a normal client cannot take a $bridge/ client id', async () => {
  const b = await startBroker({});
  try {
    await assert.rejects(connect(b.url, { protocolVersion: 5, clientId: '$bridge/s', reconnectPeriod: 0 }), /Client Identifier not valid|Identifier rejected|0x85|133/i);
  } finally {
    await b.stop();
  }
});

test('createBroker({ bridges }) runs a bridge in an embedded broker', async () => {
  const { createBroker } = await import('../../src/main/broker.ts');
  const remote = await startBroker({});
  const dir = tempDir('shoal-bridge-embed-');
  const broker = await createBroker({
    port: 0, host: '127.0.0.1', shards: 2, persistence: 'memory', dataDir: dir, logLevel: 'warn',
    bridges: [{ name: 'e', address: `127.0.0.1:${remote.port}`, restartTimeout: '0.2 1', topics: ['emb/# both 1'] }],
  });
  const clients: MqttClient[] = [];
  try {
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;
    await bridgeState(url, 'e', '1');
    const onRemote = await connect(remote.url, { protocolVersion: 5 });
    const onLocal = await connect(url, { protocolVersion: 5 });
    clients.push(onRemote, onLocal);
    const got = collect(onRemote);
    await subscribe(onRemote, 'emb/#', { qos: 1 });
    await broker.publish('emb/from-program', 'hi', { qos: 1 });
    await publish(onLocal, 'emb/from-client', 'hello', { qos: 1 });
    await got.waitFor(2, 10_000);
    assert.deepEqual(got.topics().sort(), ['emb/from-client', 'emb/from-program']);
  } finally {
    await endAll(clients);
    await broker.close();
    await remote.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

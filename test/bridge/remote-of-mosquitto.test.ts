// Shoal as the REMOTE of a bridge: Debian's mosquitto bridges to Shoal in 3.1.1 with
// `try_private true`, so it connects with protocol level 0x84 (Mosquitto's bridge flag). Shoal
// accepts the flag and treats the connection as a bridge, as Mosquitto does: what the bridge
// published is not sent back to it (No Local on its subscriptions), and what it gets keeps the
// retain flag as published. Without that, try_private falls back to plain 3.1.1 and a `both`
// rule echoes once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Broker } from '../helpers/broker.ts';
import { startBroker } from '../helpers/broker.ts';
import { collect, connect, endAll, eventually, publish, sleep, subscribe, uid, type MqttClient } from '../helpers/clients.ts';
import { RawClient, buildConnect, codeOf, type ReceivedPublish } from '../helpers/raw.ts';
import { Mosquitto, crossesOnceEachWay, freePort, mosquittoMissing, tempDir } from './helpers.ts';

describe('mosquitto 3.1.1 bridge (try_private) with Shoal as its remote', { skip: mosquittoMissing }, () => {
  let mosq: Mosquitto;
  let shoal: Broker;
  const clients: MqttClient[] = [];

  before(async () => {
    shoal = await startBroker();
    mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'), [
      'connection toshoal', `address 127.0.0.1:${shoal.port}`, 'bridge_protocol_version mqttv311',
      'try_private true', 'cleansession true', 'restart_timeout 1', 'notifications false',
      'topic t/# both 1',
    ]);
    await mosq.start();
    // Up once mosquitto's subscription on Shoal carries a probe from Shoal to mosquitto.
    const probeSub = await connect(mosq.url, { protocolVersion: 4 });
    const probePub = await connect(shoal.url, { protocolVersion: 4 });
    clients.push(probeSub, probePub);
    const got = collect(probeSub);
    await subscribe(probeSub, 't/probe');
    await eventually(async () => { await publish(probePub, 't/probe', 'p'); await sleep(100); return got.messages.length > 0; }, 15_000, 'the mosquitto bridge relays to and from Shoal');
  });
  after(async () => {
    await endAll(clients);
    await mosq?.stop();
    await shoal?.stop();
  });

  test('both: a message crosses once each way, nothing comes back to its side (no echo)', async () => {
    await crossesOnceEachWay(shoal.url, mosq.url, 't/both', 4, clients);
  });

  test('a retained message published on Shoal reaches the bridge retained, so mosquitto keeps it', async () => {
    const pub = await connect(shoal.url, { protocolVersion: 4 });
    clients.push(pub);
    const topic = `t/kept/${uid('r')}`;
    await publish(pub, topic, 'kept', { qos: 1, retain: true });
    // A subscriber that comes later on mosquitto gets it from mosquitto's own retained store.
    await eventually(async () => {
      const late = await connect(mosq.url, { protocolVersion: 4 });
      try {
        const got = collect(late);
        await subscribe(late, topic, { qos: 1 });
        await sleep(200);
        return got.messages.some((m) => m.payload.toString() === 'kept' && m.packet.retain);
      } finally {
        late.end(true);
      }
    }, 10_000, 'mosquitto holds the message as retained');
  });
});

describe('protocol level with the bridge flag from a plain client', () => {
  let shoal: Broker;
  before(async () => { shoal = await startBroker(); });
  after(async () => { await shoal?.stop(); });

  for (const version of [4, 5] as const) test(`level 0x8${version} is accepted as ${version === 4 ? '3.1.1' : '5'}: publish and subscribe work, own messages are not sent back, retain kept`, async () => {
    const c = await RawClient.open(shoal.port, { version });
    c.send(buildConnect({ version, level: 0x80 | version, clientId: uid(`b8${version}`) }));
    assert.equal(codeOf(await c.expectPacket('connack')), 0);
    const other = await connect(shoal.url, { protocolVersion: 4 });
    const bf = `bf${version}`;
    try {
      const got = collect(other);
      await subscribe(other, `${bf}/#`, { qos: 1 });
      assert.deepEqual(await c.subscribe(`${bf}/#`, 1), [1]);
      c.sendPacket({ cmd: 'publish', topic: `${bf}/own`, payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
      await c.expectPacket('puback');
      await got.waitFor(1, 5000);
      await publish(other, `${bf}/other`, 'y', { qos: 1, retain: true });
      const p = await c.waitFor('publish', 5000) as ReceivedPublish;
      assert.equal(p.topic, `${bf}/other`, 'its own message came back');
      assert.equal(p.retain, true, 'Retain As Published for a bridge');
      await c.ack(p);
      await c.expectNothing(500);
    } finally {
      c.destroy();
      other.end(true);
    }
  });

  test('level 0x83 (MQIsdp) is accepted as 3.1; 0x86 gets return code 1', async () => {
    const v31 = await RawClient.open(shoal.port, { version: 3 });
    v31.send(buildConnect({ version: 3, level: 0x83, clientId: uid('b83') }));
    assert.equal(codeOf(await v31.expectPacket('connack')), 0);
    v31.destroy();
    const bad = await RawClient.open(shoal.port, { version: 4 });
    try {
      bad.send(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x86, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]));
      const ack = await bad.expectPacket('connack');
      assert.equal((ack as { returnCode?: number }).returnCode, 1);
    } finally {
      bad.destroy();
    }
  });
});

// Bridges against Debian's real mosquitto: out and in, QoS 0/1/2, local and remote prefixes,
// for a 3.1.1 and a 5 bridge; a `both` rule does not echo (No Local / the 3.1.1 bridge flag).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';
import { Mosquitto, bridgeState, crossesOnceEachWay, freePort, mosquittoMissing, startShoalWith, tempDir } from './helpers.ts';

for (const version of ['3.1.1', '5'] as const) {
  describe(`bridge to mosquitto, protocol ${version}`, { skip: mosquittoMissing }, () => {
    let mosq: Mosquitto;
    let shoal: Broker;
    const clients: MqttClient[] = [];
    const dir = tempDir('shoal-bridge-');

    before(async () => {
      mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'));
      await mosq.start();
      shoal = await startShoalWith(dir, `
bridges:
  - name: m
    address: [127.0.0.1:${mosq.port}]
    protocol-version: "${version}"
    restart-timeout: "0.2 1"
    topics:
      - out/# out 2
      - in/# in 2
      - both/# both 2
      - {pattern: "p/#", direction: out, qos: 1, local-prefix: "loc/", remote-prefix: "rem/"}
      - {pattern: "q/#", direction: in, qos: 1, local-prefix: "loc/", remote-prefix: "rem/"}
      - low/# out 0
`);
      await bridgeState(shoal.url, 'm', '1');
    });
    after(async () => {
      await endAll(clients);
      await shoal?.stop();
      await mosq?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('out: Shoal publishes at QoS 0/1/2, mosquitto subscribers get each once at that QoS, prefixes swapped', async () => {
      const sub = await connect(mosq.url, { protocolVersion: 5 });
      const pub = await connect(shoal.url, { protocolVersion: 4 });
      clients.push(sub, pub);
      const got = collect(sub);
      await subscribe(sub, ['out/#', 'rem/#', 'loc/#', 'low/#'], { qos: 2 });
      for (const qos of [0, 1, 2] as const) await publish(pub, `out/q${qos}`, `o${qos}`, { qos });
      await publish(pub, 'loc/p/x', 'prefixed', { qos: 2 });
      await publish(pub, 'low/a', 'capped', { qos: 2 });
      const msgs = await got.waitFor(5, 10_000);
      await sleep(300);
      assert.deepEqual(got.messages.map((m) => `${m.topic}=${m.payload}@${m.packet.qos}`).sort(),
        ['low/a=capped@0', 'out/q0=o0@0', 'out/q1=o1@1', 'out/q2=o2@2', 'rem/p/x=prefixed@1'], JSON.stringify(msgs.map((m) => m.topic)));
    });

    test('in: mosquitto publishes at QoS 0/1/2, Shoal subscribers get each once, prefixes swapped, retain kept', async () => {
      const sub = await connect(shoal.url, { protocolVersion: 5 });
      const pub = await connect(mosq.url, { protocolVersion: 4 });
      clients.push(sub, pub);
      const got = collect(sub);
      await subscribe(sub, ['in/#', 'loc/#', 'rem/#'], { qos: 2 });
      for (const qos of [0, 1, 2] as const) await publish(pub, `in/q${qos}`, `i${qos}`, { qos });
      await publish(pub, 'rem/q/y', 'prefixed', { qos: 2 });
      await got.waitFor(4, 10_000);
      await sleep(300);
      assert.deepEqual(got.messages.map((m) => `${m.topic}=${m.payload}@${m.packet.qos}`).sort(),
        ['in/q0=i0@0', 'in/q1=i1@1', 'in/q2=i2@2', 'loc/q/y=prefixed@1']);
      // A retained message from the remote is retained here too.
      await publish(pub, 'in/kept', 'r', { qos: 1, retain: true });
      await got.waitFor(5, 10_000);
      const late = await connect(shoal.url, { protocolVersion: 5 });
      clients.push(late);
      const lateGot = collect(late);
      await subscribe(late, 'in/kept', { qos: 1 });
      const [m] = await lateGot.waitFor(1, 5000);
      assert.equal(m!.packet.retain, true);
      assert.equal(m!.payload.toString(), 'r');
    });

    test('both: a message crosses once each way and does not come back (no echo)', async () => {
      await crossesOnceEachWay(shoal.url, mosq.url, 'both', 5, clients);
    });
  });
}

// Capabilities a deployment turns down: announced in the v5 CONNACK, enforced for every version.
// --max-qos 1, --retain-available=false, --wildcard-subscriptions=false,
// --subscription-identifiers=false, --shared-subscriptions=false. 1 and 4 shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildConnect, buildPublish, codeOf, describeFrame, type Frame, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';

const skip = isMosquitto ? { skip: 'Shoal flags' } : {};

forEachConfig(({ version, shards }) => {
  const v5 = version === 5;
  const h = useBroker({
    shards,
    extraArgs: isMosquitto ? [] : ['--max-qos', '1', '--retain-available=false', '--wildcard-subscriptions=false', '--subscription-identifiers=false', '--shared-subscriptions=false'],
  });

  async function closed(c: RawClient, reason: number, what: string): Promise<void> {
    const frames: Frame[] = await c.expectClose(5000);
    if (v5) assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['disconnect', reason]], `${what}: ${frames.map(describeFrame).join('; ')}`);
    else assert.deepEqual(frames, [], `${what}: ${frames.map(describeFrame).join('; ')}`);
  }

  if (v5) {
    test('[MQTT-3.2.2-9] CONNACK announces Maximum QoS 1, Retain Available 0, no wildcard / identifier / shared subscriptions', skip, async () => {
      const { c, connack } = await RawClient.connect(h.port, { version, clientId: uid('caps') });
      c.destroy();
      const props = (connack as unknown as { properties?: Record<string, unknown> }).properties ?? {};
      assert.equal(props.maximumQoS, 1);
      assert.equal(props.retainAvailable, false);
      assert.equal(props.wildcardSubscriptionAvailable, false);
      assert.equal(props.subscriptionIdentifiersAvailable, false);
      assert.equal(props.sharedSubscriptionAvailable, false);
    });

    test('[MQTT-3.2.2-12] [MQTT-3.2.2-13] a Will with QoS 2 (CONNACK 0x9B) or Will Retain (0x9A) is refused', skip, async () => {
      for (const [what, will, reason] of [['Will QoS 2', { topic: 'w', payload: 'x', qos: 2 }, 0x9b], ['Will Retain', { topic: 'w', payload: 'x', retain: true }, 0x9a]] as const) {
        const c = await RawClient.open(h.port, { version });
        try {
          c.send(buildConnect({ version, clientId: uid('will'), keepalive: 30, will }));
          const frames = await c.expectClose(5000);
          assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['connack', reason]], `${what}: ${frames.map(describeFrame).join('; ')}`);
        } finally { c.destroy(); }
      }
    });

    test('a Subscription Identifier when not available: DISCONNECT 0xA1', skip, async () => {
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('subid') });
      try {
        c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], properties: { subscriptionIdentifier: 5 } } as never);
        await closed(c, 0xa1, 'subscription identifier');
      } finally { c.destroy(); }
    });
  }

  test(`[MQTT-3.2.2-10] SUBSCRIBE asking QoS 2 is granted QoS 1; wildcard and shared filters refused (${v5 ? '0xA2 / 0x9E' : '0x80'}); a QoS 2 PUBLISH arrives at QoS 1`, skip, async () => {
    const topic = uid('caps');
    const { c } = await RawClient.connect(h.port, { version, clientId: uid('sub') });
    const { c: pub } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
    try {
      const granted = await c.subscribe([{ topic, qos: 2 }, { topic: `${topic}/+`, qos: 0 }, { topic: `$share/g/${topic}`, qos: 0 }]);
      assert.deepEqual(granted, v5 ? [1, 0xa2, 0x9e] : [1, 0x80, 0x80]);
      pub.send(buildPublish({ version, topic, payload: 'q1', qos: 1, id: 3 }));
      await pub.waitFor('puback');
      const p = await c.waitFor('publish') as Pub;
      assert.equal(p.qos, 1);
      await c.ack(p);
    } finally { c.destroy(); pub.destroy(); }
  });

  test(`PUBLISH above the Maximum QoS or with RETAIN: ${v5 ? 'DISCONNECT 0x9B / 0x9A' : 'closed'}, not delivered`, skip, async () => {
    const topic = uid('refused');
    const { c: watcher } = await RawClient.connect(h.port, { version, clientId: uid('watch') });
    await watcher.subscribe(topic, 1);
    try {
      for (const [what, spec, reason] of [['QoS 2', { qos: 2, id: 1 }, 0x9b], ['RETAIN', { retain: true }, 0x9a]] as const) {
        const { c } = await RawClient.connect(h.port, { version, clientId: uid('pub') });
        try {
          c.send(buildPublish({ version, topic, payload: 'x', ...spec }));
          await closed(c, reason, what);
        } finally { c.destroy(); }
      }
      await watcher.expectNothing(200);
    } finally { watcher.destroy(); }
  });
});

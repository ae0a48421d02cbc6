// MQTT 5 CONNECT properties: what a client requests (Response / Problem Information) and what is refused.
// Request Response Information → Response Information, Request Problem Information (no Reason
// String on acks when 0), CONNECT properties out of range or given twice, and a Will whose Payload
// Format Indicator does not match its payload (CONNACK 0x99). 1 and 4 shards. Server Keep Alive is
// in keepalive.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, shoalOnly } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildConnect, buildPublish, prop, codeOf, describeFrame, hex, type Frame, type Received, type ReceivedPublish } from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';

type Props = Record<string, unknown>;
const propsOf = (p: Frame): Props => ((p as { properties?: Props }).properties ?? {});

forEachConfig(({ shards }) => {
  const version = 5 as const;
  const h = useBroker({ shards, extraArgs: isMosquitto ? [] : ['--response-information', 'reply/%c/'] });

  async function raw(properties: Props = {}, extra: Props = {}): Promise<{ c: RawClient; connack: Received }> {
    const r = await RawClient.connect(h.port, { version, clientId: uid('info'), properties: properties as never, ...extra });
    return { c: r.c, connack: r.connack as unknown as Received };
  }

  test('[MQTT-3.1.2-28] Response Information only when the client requests it', shoalOnly('--response-information'), async () => {
    const { c, connack } = await raw({ requestResponseInformation: true });
    const id = (connack as unknown as { properties?: Props }).properties?.responseInformation;
    try {
      assert.match(String(id), /^reply\/info-.+\/$/, describeFrame(connack));
      // The client uses it as the prefix of its response topics: it works as a topic.
      const topic = `${id}answer`;
      await c.subscribe(topic, 1);
      c.send(buildPublish({ version, topic, payload: 'x', qos: 1, id: 5 }));
      await c.waitFor('puback');
      assert.equal((await c.waitFor('publish') as ReceivedPublish).topic, topic);
    } finally { c.destroy(); }
    for (const props of [{}, { requestResponseInformation: false }]) {
      const r = await raw(props);
      r.c.destroy();
      assert.equal(propsOf(r.connack).responseInformation, undefined, `no Response Information when not requested: ${describeFrame(r.connack)}`);
    }
  });

  test('[MQTT-3.1.2-29] Request Problem Information 0: no Reason String on SUBACK; 1 (default): the refusal may say why', async () => {
    const bad = 'a/#/b';
    const quiet = await raw({ requestProblemInformation: false });
    try {
      quiet.c.sendPacket({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: bad, qos: 0 }] } as never);
      const ack = await quiet.c.waitFor('suback');
      assert.deepEqual((ack as unknown as { granted: number[] }).granted, [0x8f]);
      assert.equal(propsOf(ack).reasonString, undefined, describeFrame(ack));
      assert.equal(propsOf(ack).userProperties, undefined, describeFrame(ack));
    } finally { quiet.c.destroy(); }
    if (isMosquitto) return;
    const chatty = await raw();
    try {
      chatty.c.sendPacket({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: bad, qos: 0 }] } as never);
      const ack = await chatty.c.waitFor('suback');
      assert.match(String(propsOf(ack).reasonString), /Topic Filter invalid/, describeFrame(ack));
    } finally { chatty.c.destroy(); }
  });

  test('(3.1.2.11) Request Problem / Response Information other than 0 or 1, or a CONNECT property given twice: refused (CONNACK 0x82 or 0x81) and closed', async () => {
    for (const [what, props] of [
      ['Request Problem Information 2', prop.byte(0x17, 2)],
      ['Request Response Information 2', prop.byte(0x19, 2)],
      ['Session Expiry Interval twice', Buffer.concat([prop.u32(0x11, 10), prop.u32(0x11, 20)])],
      ['Receive Maximum twice', Buffer.concat([Buffer.from([0x21, 0, 5]), Buffer.from([0x21, 0, 6])])],
    ] as const) {
      const c = await RawClient.open(h.port, { version });
      try {
        c.send(buildConnect({ version, clientId: uid('props'), keepalive: 30, properties: props }));
        const frames = await c.expectClose(5000);
        assert.ok(frames.length <= 1, `${what}: ${frames.map(describeFrame).join('; ')}`);
        if (frames.length === 1) {
          assert.equal(frames[0]!.cmd, 'connack', `${what}: ${describeFrame(frames[0]!)}`);
          assert.ok([0x81, 0x82].includes(codeOf(frames[0]!) ?? 0), `${what}: ${describeFrame(frames[0]!)}`);
        }
      } finally { c.destroy(); }
    }
  });

  test('(3.1.3.2.3) Will with Payload Format Indicator 1 and a payload that is not UTF-8: CONNACK 0x99', async () => {
    const c = await RawClient.open(h.port, { version });
    try {
      c.sendPacket({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: uid('will'),
        will: { topic: 'w', payload: Buffer.from([0xc3, 0x28]), qos: 0, retain: false, properties: { payloadFormatIndicator: true } },
      } as never);
      const frames = await c.expectClose(5000);
      assert.equal(frames.length, 1, frames.map(describeFrame).join('; '));
      assert.equal(frames[0]!.cmd, 'connack');
      assert.equal(codeOf(frames[0]!), 0x99, describeFrame(frames[0]!));
    } finally { c.destroy(); }
  });

  test('(3.1.2.11.3, 3.1.2.11.4) CONNECT with Receive Maximum 0 or Maximum Packet Size 0 is a protocol error (error CONNACK or close)', async () => {
    for (const props of [prop.u16(0x21, 0), prop.u32(0x27, 0)]) {
      const c = await RawClient.open(h.port, { version });
      c.send(buildConnect({ version, clientId: uid('badprop'), properties: props }));
      const frames = await c.expectClose(5000);
      for (const f of frames) {
        assert.equal(f.cmd, 'connack', `unexpected ${describeFrame(f)}`);
        assert.ok((codeOf(f) ?? 0) >= 0x80, `CONNECT accepted with property [${hex(props)}]: ${describeFrame(f)}`);
      }
    }
  });
}, { versions: [5] });

// MQTT 5 CONNECT/CONNACK information exchange: Request Response Information → Response
// Information, Request Problem Information (no Reason String on acks when 0), Server Keep Alive
// when the client's keepalive exceeds --max-keepalive (and the broker then enforces it), and the
// Payload Format Indicator check (1 with a payload that is not UTF-8 → 0x99). 1 and 4 shards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, shoalOnly } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildConnect, buildPublish, prop, codeOf, describeFrame, type Frame, type Received, type ReceivedPublish } from '../helpers/raw.ts';
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

  test('(3.3.2.3.2) Payload Format Indicator 1 with a payload that is not UTF-8: DISCONNECT/PUBACK 0x99, not delivered', async () => {
    const topic = uid('pfi');
    const { c: sub } = await raw();
    await sub.subscribe(topic, 1);
    const { c: pub } = await raw();
    try {
      pub.send(buildPublish({ version, topic, payload: Buffer.from([0x61, 0xff, 0xfe]), qos: 1, id: 9, properties: prop.byte(0x01, 1) }));
      const f = await pub.next(5000, 'PUBACK 0x99 or DISCONNECT 0x99');
      assert.ok(['puback', 'disconnect'].includes(f.cmd), describeFrame(f));
      assert.equal(codeOf(f), 0x99, describeFrame(f));
      await sub.expectNothing(300);
    } finally { sub.destroy(); pub.destroy(); }
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
}, { versions: [5] });

describe('Server Keep Alive (--max-keepalive 1)', { skip: isMosquitto ? 'Shoal only: --max-keepalive' : undefined }, () => {
  const h = useBroker({ shards: 2, extraArgs: ['--max-keepalive', '1'] });

  test('(3.2.2.3.14) a keepalive above the maximum (or 0) is replaced by Server Keep Alive, which the broker enforces (DISCONNECT 0x8D)', async () => {
    for (const keepalive of [60, 0]) {
      const { c, connack } = await RawClient.connect(h.port, { version: 5, clientId: uid('ka'), keepalive });
      try {
        assert.equal(propsOf(connack as unknown as Frame).serverKeepAlive, 1, describeFrame(connack as unknown as Frame));
        const t0 = Date.now();
        const frames = await c.expectClose(4000);
        assert.ok(Date.now() - t0 >= 1000, 'not before 1.5 × the Server Keep Alive');
        assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['disconnect', 0x8d]]);
      } finally { c.destroy(); }
    }
  });

  test('[MQTT-3.2.2-22] a keepalive within the maximum: no Server Keep Alive, the client keepalive applies; 3.1.1 clients are never told (and keep their own)', async () => {
    const { c, connack } = await RawClient.connect(h.port, { version: 5, clientId: uid('ka'), keepalive: 1 });
    c.destroy();
    assert.equal(propsOf(connack as unknown as Frame).serverKeepAlive, undefined);
    const old = await RawClient.connect(h.port, { version: 4, clientId: uid('ka4'), keepalive: 60 });
    try {
      assert.equal(old.connack.raw.length, 4, 'plain 3.1.1 CONNACK');
      await old.c.expectNothing(1800); // its own 60 s keepalive applies
    } finally { old.c.destroy(); }
  });
});

// Malformed and forbidden input, byte by byte: the connection is closed, nobody else is harmed.
// Each case opens its own connection, sends the bad bytes, and expects the server to close that
// connection (v5: optionally after a DISCONNECT with an error reason). After each case a fresh
// client pair must still work and a bystander subscriber connected for the whole block must still
// receive: one bad connection never harms the broker or other clients. The broker runs with
// --max-packet-size 1024.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { RawClient, buildConnect, buildPublish, buildSubscribe, frame, mqttString, codeOf, describeFrame, hex, type Received } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, uid, roundTrip, type MqttClient, type Collector } from '../helpers/clients.ts';

const MAX = 1024;

interface Case {
  name: string;
  /** Bytes sent after a successful CONNECT (or instead of it when `preConnect`). */
  bytes: (v: 4 | 5, topicBase: string) => Buffer;
  preConnect?: boolean;
  /** v5 DISCONNECT reason codes allowed before the close (any >= 0x80 when absent). */
  reasons?: number[];
  /** Topic (under the bystander's filter) the bad packet targets: it must not be delivered. */
  leaks?: boolean;
  skip?: { skip?: string };
  versions?: Array<4 | 5>;
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

const cases: Case[] = [
  {
    name: '[MQTT-1.5.5-1] Remaining Length of 5 bytes is malformed',
    bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
  },
  {
    name: '[MQTT-1.5.5-1] Remaining Length of 5 bytes before CONNECT is malformed',
    preConnect: true,
    bytes: () => Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]),
  },
  {
    name: 'packet larger than --max-packet-size is refused (v5 DISCONNECT 0x95 Packet too large)',
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/big`, payload: Buffer.alloc(MAX * 2, 0x61) }),
    reasons: [0x95],
    leaks: true,
  },
  {
    name: 'a header announcing 128 MiB (beyond --max-packet-size) closes at once, without the body',
    bytes: () => Buffer.from([0x30, 0x80, 0x80, 0x80, 0x40]),
    reasons: [0x95],
  },
  {
    name: '[MQTT-1.5.3-1] [MQTT-1.5.4-1] invalid UTF-8 in a PUBLISH topic (0xC3 0x28)',
    bytes: (v, t) => buildPublish({ version: v, topic: Buffer.concat([Buffer.from(`${t}/`), Buffer.from([0xc3, 0x28])]), payload: 'x' }),
    leaks: true,
  },
  {
    name: '[MQTT-1.5.3-1] [MQTT-1.5.4-1] UTF-16 surrogate (U+D800 as ED A0 80) in a PUBLISH topic',
    bytes: (v, t) => buildPublish({ version: v, topic: Buffer.concat([Buffer.from(`${t}/`), Buffer.from([0xed, 0xa0, 0x80])]), payload: 'x' }),
    leaks: true,
  },
  {
    name: '[MQTT-1.5.3-2] [MQTT-1.5.4-2] U+0000 in a PUBLISH topic',
    bytes: (v, t) => buildPublish({ version: v, topic: Buffer.concat([Buffer.from(`${t}/a`), Buffer.from([0x00]), Buffer.from('b')]), payload: 'x' }),
    leaks: true,
  },
  {
    name: '[MQTT-1.5.3-1] invalid UTF-8 in the CONNECT client id',
    preConnect: true,
    bytes: (v) => buildConnect({ version: v, clientId: Buffer.from([0x61, 0xff, 0x62]) }),
  },
  {
    name: '[MQTT-3.3.2-2] "+" wildcard in a PUBLISH topic name',
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/+`, payload: 'x' }),
    leaks: true,
  },
  {
    name: '[MQTT-3.3.2-2] "#" wildcard in a PUBLISH topic name',
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/#`, payload: 'x', qos: 1, id: 3 }),
    leaks: true,
  },
  {
    name: '[MQTT-4.7.3-1] zero-length PUBLISH topic (no Topic Alias)',
    bytes: (v) => buildPublish({ version: v, topic: '', payload: 'x' }),
  },
  {
    name: '[MQTT-3.3.1-4] PUBLISH with QoS 3',
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/q3`, payload: 'x', firstByte: 0x36, id: 1 }),
    leaks: true,
  },
  {
    name: '[MQTT-2.3.1-1] PUBLISH QoS 1 with packet id 0',
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/id0`, payload: 'x', qos: 1, id: 0 }),
    leaks: true,
    skip: mosquittoDeviates('2.0.11 accepts a QoS 1 PUBLISH with packet id 0'),
  },
  {
    name: 'PUBLISH topic length running past the end of the packet',
    bytes: () => Buffer.from([0x30, 0x05, 0x00, 0x10, 0x61, 0x62, 0x63]),
  },
  {
    name: '[MQTT-3.8.1-1] SUBSCRIBE with reserved flags 0000 (first byte 0x80)',
    bytes: (v, t) => buildSubscribe({ version: v, id: 1, filters: [{ topic: `${t}/s`, options: 0 }], firstByte: 0x80 }),
  },
  {
    name: '[MQTT-3.10.1-1] UNSUBSCRIBE with reserved flags 0000 (first byte 0xA0)',
    bytes: (v, t) => frame(0xa0, Buffer.concat([u16(1), v === 5 ? Buffer.from([0]) : Buffer.alloc(0), mqttString(`${t}/s`)])),
  },
  {
    name: '[MQTT-3.6.1-1] PUBREL with reserved flags 0000 (first byte 0x60)',
    bytes: () => Buffer.from([0x60, 0x02, 0x00, 0x01]),
  },
  {
    name: '[MQTT-2.2.2-2] PINGREQ with a reserved flag set (first byte 0xC1)',
    bytes: () => Buffer.from([0xc1, 0x00]),
    skip: mosquittoDeviates('2.0.11 answers a PINGREQ with reserved flags with PINGRESP instead of closing'),
  },
  {
    name: '[MQTT-2.2.2-2] PUBACK with a reserved flag set (first byte 0x42)',
    bytes: () => Buffer.from([0x42, 0x02, 0x00, 0x01]),
    skip: mosquittoDeviates('2.0.11 ignores reserved flags on PUBACK'),
  },
  {
    name: 'reserved packet type 0',
    bytes: () => Buffer.from([0x00, 0x00]),
  },
  {
    name: 'packet type 15 (reserved in 3.1.1; AUTH without an authentication method in 5.0)',
    bytes: () => Buffer.from([0xf0, 0x00]),
  },
  {
    name: '[MQTT-3.8.3-3] SUBSCRIBE without any topic filter',
    bytes: (v) => frame(0x82, Buffer.concat([u16(1), v === 5 ? Buffer.from([0]) : Buffer.alloc(0)])),
  },
  {
    name: '[MQTT-3.10.3-2] UNSUBSCRIBE without any topic filter',
    bytes: (v) => frame(0xa2, Buffer.concat([u16(1), v === 5 ? Buffer.from([0]) : Buffer.alloc(0)])),
  },
  {
    name: '[MQTT-3.8.3-4] [MQTT-3.8.3-5] SUBSCRIBE requesting QoS 3 / reserved option bits',
    bytes: (v, t) => buildSubscribe({ version: v, id: 1, filters: [{ topic: `${t}/s`, options: 0x03 }] }),
  },
  {
    name: '[MQTT-3.8.3-5] SUBSCRIBE with reserved option bits 6-7 set',
    bytes: (v, t) => buildSubscribe({ version: v, id: 1, filters: [{ topic: `${t}/s`, options: 0xc1 }] }),
  },
  {
    name: 'unknown property identifier (0x7F) in a v5 PUBLISH',
    versions: [5],
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/prop`, payload: 'x', properties: Buffer.from([0x7f, 0x00]) }),
    leaks: true,
  },
  {
    name: 'property length running past the end of a v5 PUBLISH',
    versions: [5],
    // Property length 1 holds only the id of Payload Format Indicator (0x01), not its byte.
    bytes: (v, t) => buildPublish({ version: v, topic: `${t}/plen`, payload: Buffer.alloc(0), properties: Buffer.from([0x01]) }),
  },
];

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards, maxPacketSize: MAX });

  // A subscriber that lives through every case of the block.
  const base = uid('bystander');
  let bystander: MqttClient;
  let seen: Collector;
  let pub: MqttClient;
  before(async () => {
    bystander = await connect(h.url, { version });
    seen = collect(bystander);
    await subscribe(bystander, `${base}/#`, { qos: 1 });
    pub = await connect(h.url, { version });
  });
  after(() => { bystander?.end(true); pub?.end(true); });

  let probe = 0;
  async function assertHealthy(what: string): Promise<void> {
    assert.ok(h.broker.alive(), `broker died after: ${what}\nstderr:\n${h.broker.stderr().slice(-2000)}`);
    const t = `${base}/probe/${++probe}`;
    await publish(pub, t, 'still alive', { qos: 1 });
    await seen.waitFor(1, 3000, (m) => m.topic === t);
    await roundTrip(h.url, version);
  }

  for (const cs of cases) {
    if (cs.versions && !cs.versions.includes(version)) continue;
    test(`${cs.name} → connection closed, others unharmed`, cs.skip ?? {}, async () => {
      const c = await RawClient.open(h.port, { version });
      if (!cs.preConnect) await c.handshake({ clientId: uid('bad') });
      const bytes = cs.bytes(version, base);
      c.send(bytes);
      const frames = await c.expectClose(5000).catch((e: Error) => { c.destroy(); throw new Error(`sent [${hex(bytes.subarray(0, 48))}${bytes.length > 48 ? ' …' : ''}]: ${e.message}`); });
      for (const f of frames) {
        if (f.cmd === 'connack') { assert.notEqual(codeOf(f), 0, `accepted: ${describeFrame(f)}`); continue; }
        assert.equal(version, 5, `a v3.1.1 server answers a bad packet by closing only, got ${describeFrame(f)}`);
        assert.equal(f.cmd, 'disconnect', `unexpected ${describeFrame(f)}`);
        const rc = codeOf(f) ?? 0;
        assert.ok(cs.reasons ? cs.reasons.includes(rc) : rc >= 0x80, `DISCONNECT reason 0x${rc.toString(16)} for: ${cs.name}`);
      }
      await assertHealthy(cs.name);
      if (cs.leaks) {
        const leaked = seen.messages.filter((m) => !m.topic.startsWith(`${base}/probe/`));
        assert.deepEqual(leaked.map((m) => m.topic), [], 'the bad PUBLISH was routed to a subscriber');
      }
    });
  }

  test('a packet exactly at --max-packet-size is accepted and delivered', async () => {
    const topic = `${base}/fits`;
    const head = buildPublish({ version, topic, payload: Buffer.alloc(0), qos: 0 });
    // Fill up to exactly MAX bytes on the wire (fixed header included).
    let size = MAX - head.length;
    let p = buildPublish({ version, topic, payload: Buffer.alloc(size, 0x62) });
    while (p.length > MAX) p = buildPublish({ version, topic, payload: Buffer.alloc(--size, 0x62) });
    assert.equal(p.length, MAX);
    const { c, connack } = await RawClient.connect(h.port, { version, clientId: uid('fits') });
    try {
      if (version === 5) assert.equal(connack.properties?.maximumPacketSize, MAX, `CONNACK Maximum Packet Size: ${describeFrame(connack as Received)}`);
      c.send(p);
      await seen.waitFor(1, 3000, (m) => m.topic === topic);
      assert.ok(!c.closed, 'connection closed for a packet within the limit');
    } finally { c.disconnect(); }
    seen.clear();
  });
});

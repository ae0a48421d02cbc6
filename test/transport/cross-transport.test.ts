// Clients on different transports (TCP, TLS, WebSocket, WebSocket over TLS) and different
// shards are one broker: messages cross between them, a client id taken over from another
// transport keeps its session, and $SYS counts them all. 4 shards: connections are placed on
// the least-loaded shard, so clients connected one after another on a quiet broker spread
// over every shard, whatever their transport.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt-packet';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { connect, connectClient, collect, subscribe, publish, endAll, uid, withTimeout, type MqttClient } from '../helpers/clients.ts';
import { hasOpenssl, skipWithoutOpenssl, sysValue, testCerts, transportArgs } from '../helpers/tls.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own transport flags' : false);
const SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'];

describe('TCP, TLS, WebSocket and WebSocket-over-TLS clients across 4 shards', { skip }, () => {
  const h = useBroker({ shards: 4, sysInterval: 1, extraArgs: certs === null ? [] : transportArgs(certs) });
  const url = (scheme: string): string => h.broker.urls[scheme]!;

  test('8 clients (2 per transport, 3.1.1 and 5) each publish QoS 0, 1 and 2; every client receives all 24 messages exactly once', async () => {
    const base = uid('xt');
    const cs: MqttClient[] = [];
    try {
      for (let i = 0; i < 8; i++) cs.push(await connect(url(SCHEMES[i % 4]!), { version: i < 4 ? 4 : 5, ca: certs!.ca, clientId: uid(`x${i}`) }));
      const cols = cs.map((c) => collect(c, (t) => t.startsWith(`${base}/`)));
      for (const c of cs) await subscribe(c, `${base}/#`, { qos: 2 });
      const expected: string[] = [];
      await Promise.all(cs.flatMap((c, i) => [0, 1, 2].map((qos) => {
        const payload = `${SCHEMES[i % 4]}-${i}-q${qos}`;
        expected.push(payload);
        return publish(c, `${base}/${i}`, payload, { qos: qos as 0 | 1 | 2 });
      })));
      for (const [i, col] of cols.entries()) {
        await col.waitFor(expected.length, 5000).catch((e: Error) => { throw new Error(`client ${i} (${SCHEMES[i % 4]}): ${e.message}`); });
      }
      await new Promise((r) => setTimeout(r, 300));
      for (const [i, col] of cols.entries()) assert.deepEqual(col.payloads().sort(), [...expected].sort(), `client ${i} (${SCHEMES[i % 4]})`);
      const connected = Number(await sysValue(cs[3]!, 'clients/connected', (v) => Number(v) >= 8));
      assert.ok(connected >= 8, '$SYS counts clients of every transport');
    } finally { await endAll(cs); }
  });

  test('MQTT 5: a client id taken over from another transport keeps its session; the old connection gets DISCONNECT 0x8E', async () => {
    const clientId = uid('xt-take');
    const topic = uid('xt-take-t');
    const opts = { version: 5 as const, ca: certs!.ca, clientId, clean: false, properties: { sessionExpiryInterval: 60 } };
    const order = ['ws', 'mqtts', 'mqtt', 'wss', 'ws'];
    let prev = (await connectClient(url(order[0]!), opts)).client;
    const all: MqttClient[] = [prev];
    const pub = await connect(url('mqtt'));
    try {
      await subscribe(prev, topic, { qos: 1 });
      for (const scheme of order.slice(1)) {
        const disconnected = new Promise<number | undefined>((res) => prev.once('disconnect', (p: IDisconnectPacket) => res(p.reasonCode)));
        const next = await connectClient(url(scheme), opts);
        all.push(next.client);
        assert.equal(next.connack.sessionPresent, true, `session present on ${scheme}`);
        assert.equal(await withTimeout(disconnected, 5000, `DISCONNECT to the old connection (before ${scheme})`), 0x8e);
        const col = collect(next.client, (t) => t === topic);
        await publish(pub, topic, `to ${scheme}`, { qos: 1 });
        await col.waitFor(1, 5000);
        assert.deepEqual(col.payloads(), [`to ${scheme}`], `the subscription follows the session to ${scheme}`);
        col.stop();
        prev = next.client;
      }
    } finally { await endAll([...all, pub]); }
  });
});

describe('graceful stop with clients on every transport', { skip }, () => {
  test('SIGTERM: MQTT 5 clients of every transport get DISCONNECT 0x8B, the broker exits 0', async () => {
    const b = await startBroker({ shards: 2, extraArgs: transportArgs(certs!) });
    const cs: MqttClient[] = [];
    try {
      for (const scheme of SCHEMES) cs.push(await connect(b.urls[scheme]!, { version: 5, ca: certs!.ca }));
      const reasons = cs.map((c) => new Promise<number | undefined>((res) => c.once('disconnect', (p: IDisconnectPacket) => res(p.reasonCode))));
      assert.equal(await b.stop(), 0, `exit code\n${b.stderr().slice(-2000)}`);
      assert.deepEqual(await withTimeout(Promise.all(reasons), 5000, 'DISCONNECT to every client'), [0x8b, 0x8b, 0x8b, 0x8b]);
    } finally {
      await endAll(cs);
      await b.stop();
    }
  });
});

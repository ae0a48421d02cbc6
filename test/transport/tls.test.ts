// MQTT over TLS (--tls-port): MQTT.js over mqtts:// (3.1.1 and 5) and mosquitto_pub /
// mosquitto_sub with --cafile, against a broker with 2 shards. The TLS handshake runs in the
// shard that owns the connection (docs/transports.md). Certificates are made with openssl.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker, mosquittoAvailable, versionName } from '../helpers/matrix.ts';
import mqtt from 'mqtt';
import type { IConnackPacket } from 'mqtt-packet';
import { connect, collect, subscribe, publish, endAll, uid, withTimeout } from '../helpers/clients.ts';
import { run, startSub, dataLines } from '../helpers/mosquitto-cli.ts';
import { hasOpenssl, skipWithoutOpenssl, testCerts, transportArgs } from '../helpers/tls.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own TLS flags' : false);
const mosq = mosquittoAvailable();

describe('MQTT over TLS (mqtts)', { skip }, () => {
  const h = useBroker({ shards: 2, extraArgs: certs === null ? [] : transportArgs(certs) });
  const url = (): string => h.broker.urls.mqtts!;

  for (const version of [4, 5] as const) {
    test(`${versionName(version)}: MQTT.js over mqtts with the test CA publishes and receives QoS 0, 1 and 2`, async () => {
      const topic = uid('tls/qos');
      const sub = await connect(url(), { version, ca: certs!.ca });
      const pub = await connect(url(), { version, ca: certs!.ca });
      try {
        const col = collect(sub);
        await subscribe(sub, topic, { qos: 2 });
        for (const qos of [0, 1, 2] as const) await publish(pub, topic, `q${qos}`, { qos });
        const got = await col.waitFor(3);
        assert.deepEqual(got.map((m) => [m.payload.toString(), m.packet.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
      } finally { await endAll([sub, pub]); }
    });

    test(`${versionName(version)}: a persistent session over TLS keeps its subscription across a reconnect`, async () => {
      const topic = uid('tls/session');
      const clientId = uid('tls-p');
      const opts = { ca: certs!.ca, clientId, clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) };
      const first = await connect(url(), { version, ...opts });
      await subscribe(first, topic, { qos: 1 });
      await endAll([first]);
      const pub = await connect(url(), { version, ca: certs!.ca });
      await publish(pub, topic, 'while away', { qos: 1 });
      // The queued message may come in the same read as CONNACK: listen before connecting.
      const again = mqtt.connect(url(), { protocolVersion: version, reconnectPeriod: 0, ...opts });
      const connack = new Promise<IConnackPacket>((res) => again.once('connect', res));
      const msg = new Promise<string>((res) => again.once('message', (_t, payload) => res(payload.toString())));
      try {
        assert.equal((await withTimeout(connack, 5000, 'CONNACK')).sessionPresent, true);
        assert.equal(await withTimeout(msg, 5000, 'the queued message'), 'while away');
      } finally { await endAll([pub, again]); }
    });
  }

  test('a client that does not trust the test CA refuses the server (the certificate chain is what was configured)', async () => {
    await assert.rejects(connect(url(), { version: 4, timeout: 3000 }), /self.signed|unable to (verify|get local issuer)/i);
  });

  for (const V of ['mqttv311', 'mqttv5']) {
    test(`mosquitto_pub → mosquitto_sub over TLS with --cafile (${V})`, { skip: mosq.ok ? false : `mosquitto clients unavailable: ${mosq.reason}` }, async () => {
      const topic = uid('tls/mosq');
      const common = ['-h', '127.0.0.1', '-p', new URL(url()).port, '--cafile', certs!.caFile, '-V', V];
      const sub = await startSub([...common, '-t', topic, '-q', '2', '-C', '3', '-W', '10', '-F', 'DATA|%t|%q|%p']);
      for (const q of [0, 1, 2]) {
        const r = await run('mosquitto_pub', [...common, '-t', topic, '-q', String(q), '-m', `m${q}`]);
        assert.equal(r.code, 0, `mosquitto_pub -q ${q} failed: ${r.stderr}`);
      }
      const res = await sub.done;
      assert.equal(res.code, 0, `mosquitto_sub exit code\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
      assert.deepEqual(dataLines(res.stdout), [0, 1, 2].map((q) => `${topic}|${q}|m${q}`));
    });
  }

  test('plain mosquitto_pub (no TLS) cannot talk MQTT to the TLS port', { skip: mosq.ok ? false : `mosquitto clients unavailable: ${mosq.reason}` }, async () => {
    const port = new URL(url()).port;
    const plain = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'x', '-m', 'y']);
    assert.notEqual(plain.code, 0, 'plain MQTT to the TLS port must fail');
  });
});

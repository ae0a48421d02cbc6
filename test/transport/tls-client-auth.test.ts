// --tls-client-auth: TLS clients (mqtts and wss) must present a certificate signed by --tls-ca.
// A client without one, or with one from another CA, is refused in the TLS handshake; that
// costs only its own socket (a connected client keeps working) and counts in
// $SYS/broker/connections/handshakes-failed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker, mosquittoAvailable } from '../helpers/matrix.ts';
import { connect, endAll } from '../helpers/clients.ts';
import { run } from '../helpers/mosquitto-cli.ts';
import { assertAlive, hasOpenssl, skipWithoutOpenssl, sysValue, testCerts, transportArgs } from '../helpers/tls.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own TLS flags' : false);
const mosq = mosquittoAvailable();

describe('TLS client certificates required (--tls-client-auth)', { skip }, () => {
  const h = useBroker({ shards: 2, sysInterval: 1, extraArgs: certs === null ? [] : transportArgs(certs, ['--tls-ca', certs.caFile, '--tls-client-auth']) });
  const withCert = () => ({ ca: certs!.ca, cert: certs!.clientCert, key: certs!.clientKey });

  test('a client with a certificate from the CA connects over mqtts and over wss, 3.1.1 and 5', async () => {
    const cs = [];
    try {
      for (const version of [4, 5] as const) {
        for (const scheme of ['mqtts', 'wss']) {
          const c = await connect(h.broker.urls[scheme]!, { version, ...withCert() });
          cs.push(c);
          await assertAlive(c, `${scheme} v${version} with a client certificate`);
        }
      }
    } finally { await endAll(cs); }
  });

  test('a client without a certificate, or with one from another CA, is refused; a connected client keeps working', async () => {
    const ok = await connect(h.broker.urls.mqtts!, { version: 5, ...withCert() });
    const before = Number(await sysValue(ok, 'connections/handshakes-failed'));
    try {
      for (const scheme of ['mqtts', 'wss']) {
        await assert.rejects(connect(h.broker.urls[scheme]!, { version: 4, ca: certs!.ca, timeout: 3000 }), `${scheme} without a client certificate`);
        await assert.rejects(connect(h.broker.urls[scheme]!, { version: 4, ca: certs!.ca, cert: certs!.rogueCert, key: certs!.rogueKey, timeout: 3000 }), `${scheme} with a certificate of another CA`);
      }
      await assertAlive(ok, 'after four refused TLS clients');
      await sysValue(ok, 'connections/handshakes-failed', (v) => Number(v) >= before + 4);
    } finally { await endAll([ok]); }
  });

  test('mosquitto_pub with --cert/--key is let in, without them it is not', { skip: mosq.ok ? false : `mosquitto clients unavailable: ${mosq.reason}` }, async () => {
    const common = ['-h', '127.0.0.1', '-p', new URL(h.broker.urls.mqtts!).port, '--cafile', certs!.caFile, '-t', 'auth/x', '-m', 'y', '-q', '1'];
    const good = await run('mosquitto_pub', [...common, '--cert', certs!.clientCertFile, '--key', certs!.clientKeyFile]);
    assert.equal(good.code, 0, `with a client certificate: ${good.stderr}`);
    const bad = await run('mosquitto_pub', common);
    assert.notEqual(bad.code, 0, 'without a client certificate');
  });
});

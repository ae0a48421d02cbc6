// A bridge over TLS with a client certificate and a user name and password, to a mosquitto that
// requires both; a wrong password shows as the bridge's last error and it is not connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BridgeInfo } from '../../src/shared/admin-query.ts';
import { request } from '../admin/helpers.ts';
import { collect, connect, endAll, eventually, publish, subscribe, type MqttClient } from '../helpers/clients.ts';
import { skipWithoutOpenssl, testCerts } from '../helpers/tls.ts';
import { Mosquitto, bridgeState, freePort, mosquittoMissing, startShoalWith, tempDir } from './helpers.ts';

test('bridge over TLS with a client certificate and a password; a wrong password is the last error', { skip: mosquittoMissing || skipWithoutOpenssl, timeout: 90_000 }, async () => {
  const certs = testCerts();
  const mdir = tempDir('shoal-bridge-mosq-');
  // mosquitto run as root drops to its own user: it reads copies in its (world-readable) directory.
  for (const f of ['ca.pem', 'server.pem', 'server.key']) { copyFileSync(join(certs.dir, f), join(mdir, f)); chmodSync(join(mdir, f), 0o644); }
  execFileSync('mosquitto_passwd', ['-b', '-c', join(mdir, 'passwd'), 'site', 's3cret']);
  chmodSync(join(mdir, 'passwd'), 0o644);
  const tlsPort = await freePort();
  const mosq = new Mosquitto(await freePort(), mdir, [
    `password_file ${mdir}/passwd`, 'allow_anonymous true',
    `listener ${tlsPort} 127.0.0.1`, `cafile ${mdir}/ca.pem`, `certfile ${mdir}/server.pem`, `keyfile ${mdir}/server.key`, 'require_certificate true',
  ]);
  const dir = tempDir('shoal-bridge-');
  const clients: MqttClient[] = [];
  let shoal;
  try {
    await mosq.start();
    const entry = (name: string, password: string): string => `
  - name: ${name}
    address: localhost:${tlsPort}
    ca: ${certs.caFile}
    cert: ${certs.clientCertFile}
    key: ${certs.clientKeyFile}
    username: site
    password: ${password}
    restart-timeout: "0.3 1"
    topics: [secure/# out 1]`;
    shoal = await startShoalWith(dir, `bridges:${entry('good', 's3cret')}${entry('bad', 'wrong')}\n`, { extraArgs: ['--http-port', '0'] });
    await bridgeState(shoal.url, 'good', '1');
    const sub = await connect(mosq.url, { protocolVersion: 5 });
    const pub = await connect(shoal.url, { protocolVersion: 5 });
    clients.push(sub, pub);
    const got = collect(sub);
    await subscribe(sub, 'secure/#', { qos: 1 });
    await publish(pub, 'secure/a', 'over tls', { qos: 1 });
    const msgs = await got.waitFor(1, 10_000);
    assert.equal(msgs[0]!.payload.toString(), 'over tls');
    const bridges = async (): Promise<BridgeInfo[]> => (await request(`${shoal!.urls.http}/api/v1/bridges`)).json() as BridgeInfo[];
    await eventually(async () => (await bridges()).find((b) => b.name === 'bad')!.last_error !== '', 10_000, 'the bad bridge says why');
    const [bad, good] = await bridges();
    assert.equal(good!.connected, true);
    assert.equal(bad!.connected, false);
    assert.match(bad!.last_error, /refused by the broker: CONNACK reason 0x8[67]/);
  } finally {
    await endAll(clients);
    await shoal?.stop();
    await mosq.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

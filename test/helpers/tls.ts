// Test certificates, made at test time with the openssl CLI (once per test process, in a
// temporary directory): a CA, a server certificate for localhost / 127.0.0.1 signed by it, a
// client certificate signed by it, and a client certificate from another CA (to be refused).
// Tests that need them skip with a reason when openssl is absent.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, publish, subscribe, uid, unsubscribe, type MqttClient } from './clients.ts';

export interface TestCerts {
  dir: string;
  /** Paths of the PEM files. */
  caFile: string; certFile: string; keyFile: string;
  clientCertFile: string; clientKeyFile: string;
  /** PEM contents, for Node / MQTT.js clients. */
  ca: string; clientCert: string; clientKey: string; rogueCert: string; rogueKey: string;
}

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
export const skipWithoutOpenssl = hasOpenssl ? false : 'openssl CLI not installed (needed to make test certificates)';

let made: TestCerts | null = null;

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes (once) and returns the test certificate set. */
export function testCerts(): TestCerts {
  if (made !== null) return made;
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string): void => openssl(dir, 'req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=Shoal ${name}`);
  const leaf = (name: string, signer: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  made = {
    dir,
    caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'), clientKeyFile: join(dir, 'client.key'),
    ca: read('ca.pem'), clientCert: read('client.pem'), clientKey: read('client.key'),
    rogueCert: read('rogue.pem'), rogueKey: read('rogue.key'),
  };
  return made;
}

/** Broker flags for a TLS (mqtts), a WebSocket and a WebSocket-over-TLS listener on free ports. */
export function transportArgs(c: TestCerts, extra: string[] = []): string[] {
  return ['--tls-port', '0', '--ws-port', '0', '--wss-port', '0', '--tls-cert', c.certFile, '--tls-key', c.keyFile, ...extra];
}

/** A connected client still works: it gets back, through the broker, what it publishes to itself. */
export async function assertAlive(client: MqttClient, what: string): Promise<void> {
  const topic = uid('alive');
  const col = collect(client, (t) => t === topic);
  try {
    await subscribe(client, topic, { qos: 1 });
    await publish(client, topic, what, { qos: 1 });
    await col.waitFor(1, 5000);
    await unsubscribe(client, topic);
  } catch (err) {
    throw new Error(`${what}: the connected client stopped working: ${(err as Error).message}`);
  } finally {
    col.stop();
  }
}

/** The value of `$SYS/broker/<name>` once it satisfies `pred` (the broker republishes every --sys-interval). */
export async function sysValue(client: MqttClient, name: string, pred: (v: string) => boolean = () => true, timeout = 5000): Promise<string> {
  const topic = `$SYS/broker/${name}`;
  const col = collect(client, (t) => t === topic);
  try {
    await subscribe(client, topic, { qos: 0 });
    const got = await col.waitFor(1, timeout, (m) => pred(m.payload.toString())).catch((err: Error) => {
      throw new Error(`${topic}: ${err.message} (last ${col.payloads().at(-1)})`);
    });
    return got[0]!.payload.toString();
  } finally {
    col.stop();
    await unsubscribe(client, topic);
  }
}

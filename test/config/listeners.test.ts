// The config file's listeners: list gives one broker several listeners of each transport,
// each with its own host, port, TLS material, client-certificate rule and WebSocket path;
// the plain port flags keep giving one listener each. Real clients on every listener.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto, startBroker, type Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, publish, subscribe, uid, type MqttClient } from '../helpers/clients.ts';
import { assertAlive, hasOpenssl, skipWithoutOpenssl, testCerts } from '../helpers/tls.ts';
import { envWith, run } from './run.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its config file' : false);
const dir = mkdtempSync(join(tmpdir(), 'shoal-listeners-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The start line's URLs, in order. */
function urlsOf(b: Broker): string[] {
  const list = /listening on (.*) \(/.exec(b.stdout())![1]!;
  return list.split(', ').map((u) => u.replace('0.0.0.0', '127.0.0.1'));
}

function listenersYaml(): string {
  const c = certs!;
  return `listeners:
  - {transport: tcp, port: 0}
  - {transport: ws, port: 0, path: /a}
  - {transport: ws, port: 0, path: /b}
  - {transport: tls, port: 0, cert: ${c.certFile}, key: ${c.keyFile}}
  - transport: tls
    port: 0
    cert: ${c.certFile}
    key: ${c.keyFile}
    ca: ${c.caFile}
    client-auth: yes
  - {transport: wss, host: 127.0.0.1, port: 0, cert: ${c.certFile}, key: ${c.keyFile}, path: /w}
`;
}

for (const accept of ['main', 'shards'] as const) {
  describe(`several listeners of each transport from the config file (2 shards, --accept ${accept})`, { skip }, () => {
    test('every listener is on the start line after the port flags\' one and carries MQTT; paths and client certificates are per listener', async () => {
      const f = configFile(`l-${accept}.yaml`, listenersYaml());
      const b = await startBroker({ shards: 2, extraArgs: ['--config', f, '--accept', accept] });
      const cs: MqttClient[] = [];
      try {
        const urls = urlsOf(b);
        assert.equal(urls.length, 7, b.stdout());
        const [tcp1, tcp2, wsA, wsB, tls1, tls2, wss] = urls as [string, string, string, string, string, string, string];
        assert.match(tcp1, /^mqtt:\/\/127\.0\.0\.1:\d+$/, 'the --port listener comes first');
        assert.match(tcp2, /^mqtt:\/\/127\.0\.0\.1:\d+$/, 'host from --host');
        assert.match(wsA, /^ws:\/\/127\.0\.0\.1:\d+\/a$/);
        assert.match(wsB, /^ws:\/\/127\.0\.0\.1:\d+\/b$/);
        assert.match(wss, /^wss:\/\/127\.0\.0\.1:\d+\/w$/);
        const ca = certs!.ca;
        const sub = await connect(wsB, { clientId: uid('sub') });
        cs.push(sub);
        const topic = uid('lst');
        const col = collect(sub, (t) => t === topic);
        await subscribe(sub, topic, { qos: 1 });
        const pubs = [
          await connect(tcp1), await connect(tcp2), await connect(wsA, { version: 5 }), await connect(tls1, { ca }),
          await connect(tls2, { ca, cert: certs!.clientCert, key: certs!.clientKey }), await connect(wss, { ca }),
        ];
        cs.push(...pubs);
        for (const [i, p] of pubs.entries()) await publish(p, topic, `from ${i}`, { qos: 1 });
        await col.waitFor(6, 5000);
        assert.deepEqual(col.payloads().sort(), [0, 1, 2, 3, 4, 5].map((i) => `from ${i}`));
        // Per-listener rules: /a's listener refuses /b; the client-auth listener refuses a client without a certificate, the other TLS one does not.
        const wrongPath = wsA.replace(/\/a$/, '/b');
        await assert.rejects(connect(wrongPath, { timeout: 2000 }), `ws listener /a refuses ${wrongPath}`);
        await assert.rejects(connect(tls2, { ca, timeout: 2000 }), 'client-auth listener without a client certificate');
        await assertAlive(pubs[3]!, 'the TLS listener without client-auth');
      } finally {
        await endAll(cs);
        await b.stop();
      }
    });
  });
}

describe('listeners: refusals', { skip }, () => {
  test('a bad entry names the file and line (exit 2); a bad certificate names the listener (exit 1)', () => {
    const cases: [string, string, RegExp][] = [
      ['unknown key', 'listeners:\n  - transport: tcp\n    port: 1884\n    colour: red\n', /:4: listeners\[0\]: unknown key "colour"/],
      ['no port', 'port: 1883\nlisteners:\n  - {transport: ws}\n', /:3: listeners\[0\]: needs port/],
      ['bad transport', 'listeners:\n  - {transport: quic, port: 1}\n', /:2: listeners\[0\]\.transport: must be one of tcp, tls, ws, wss, got "quic"/],
      ['not a list', 'listeners: tcp\n', /:1: listeners: must be a list/],
      ['tls without certificate', 'listeners:\n  - {transport: tcp, port: 0}\n  - {transport: tls, port: 0}\n', /:3: listeners\[1\] \(tls\): needs cert and key/],
      ['a path on tcp', 'listeners:\n  - {transport: tcp, port: 0, path: /x}\n', /:2: listeners\[0\] \(tcp\): path is for ws and wss listeners/],
      ['same port twice', 'port: 18830\nlisteners:\n  - {transport: ws, port: 18830}\n', /two listeners on 0\.0\.0\.0:18830/],
    ];
    for (const [what, text, pattern] of cases) {
      const f = configFile(`bad-${what.replaceAll(' ', '-')}.yaml`, text);
      const r = run(['--config', f, '--persistence', 'memory', '--shards', '1'], envWith());
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern, what);
      if (!/same port/.test(what)) assert.ok(r.stderr.startsWith(`shoal: ${f}:`), `${what} names the file: ${r.stderr}`);
    }
    const f = configFile('missing-cert.yaml', `listeners:\n  - {transport: tls, port: 0, cert: ${join(dir, 'nope.pem')}, key: ${certs!.keyFile}}\n`);
    const r = run(['--config', f, '--host', '127.0.0.1', '--port', '0', '--persistence', 'memory', '--shards', '1'], envWith());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^shoal: listeners\[0\]\.cert .*nope\.pem: ENOENT \(SHOAL_TLS_INVALID\)\n$/);
  });
});

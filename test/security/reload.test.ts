// SIGHUP reloads the password file, the ACL file and the TLS certificates under traffic: no
// connection drops, the broker lives on, connected clients follow the new ACL at their next
// operation, a new user can log in, and a file that fails to parse keeps the old one (logged).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { collect, connect, connectClient, endAll, eventually, publish, sleep, subscribe } from '../helpers/clients.ts';
import { skipWithoutOpenssl } from '../helpers/tls.ts';

const skip = isMosquitto ? 'Shoal only' : spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status !== 0 ? 'mosquitto_passwd not installed' : false;

const dir = mkdtempSync(join(tmpdir(), 'shoal-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate for localhost / 127.0.0.1 (its own CA): PEM texts. */
function selfSigned(name: string): { certPem: string; keyPem: string } {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-subj', `/CN=${name}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { certPem: readFileSync(join(dir, `${name}.pem`), 'utf8'), keyPem: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

const passwd = (...args: string[]): void => {
  const r = spawnSync('mosquitto_passwd', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
};

test('SIGHUP under traffic: new ACL and users apply, nobody is dropped, a bad file keeps the old one', { skip, timeout: 90_000 }, async () => {
  const pw = join(dir, 'passwd');
  const acl = join(dir, 'acl');
  passwd('-c', '-b', pw, 'pub', 'pub-pw');
  passwd('-b', pw, 'sub', 'sub-pw');
  writeFileSync(acl, 'user pub\ntopic write s/#\n\nuser sub\ntopic read s/#\n');
  const b = await startBroker({ shards: 2, extraArgs: ['--password-file', pw, '--acl-file', acl] });
  const clients: Awaited<ReturnType<typeof connect>>[] = [];
  try {
    const pub = await connect(b.url, { version: 5, username: 'pub', password: 'pub-pw' });
    const sub = await connect(b.url, { version: 5, username: 'sub', password: 'sub-pw' });
    clients.push(pub, sub);
    let closes = 0;
    for (const c of clients) c.on('close', () => { closes++; });
    const got = collect(sub);
    await subscribe(sub, 's/#', { qos: 1 });

    // Traffic on two topics the whole time: s/a stays readable, s/b is taken away by the reload.
    let running = true;
    let sent = 0;
    const traffic = (async () => {
      while (running) {
        await publish(pub, sent % 2 === 0 ? 's/a' : 's/b', String(sent), { qos: 1 });
        sent++;
        await sleep(5);
      }
    })();
    await got.waitFor(20, 10_000);

    writeFileSync(acl, 'user pub\ntopic write s/#\n\nuser sub\ntopic read s/a\n\nuser late\ntopic read s/#\n');
    passwd('-b', pw, 'late', 'late-pw');
    const at = sent;
    b.proc.kill('SIGHUP');
    await eventually(() => /reload: ACL file loaded/.test(b.stderr()), 5000, 'reload logged');
    await sleep(300);
    const mark = got.messages.length;
    await sleep(700);
    const after = got.messages.slice(mark);
    assert.ok(after.length >= 5, `traffic went on after the reload (${after.length} messages)`);
    assert.deepEqual([...new Set(after.map((m) => m.topic))], ['s/a'], 'the subscriber no longer reads s/b');
    assert.ok(sent > at, 'the publisher kept publishing');

    // The user added to the password file logs in without a restart.
    const late = await connect(b.url, { version: 4, username: 'late', password: 'late-pw' });
    clients.push(late);

    // A file that does not parse: logged with its line, the previous rules stay.
    writeFileSync(acl, 'user sub\ntopic readz s/#\n');
    b.proc.kill('SIGHUP');
    await eventually(() => /ACL file not loaded, the old one stays: .*acl:2/.test(b.stderr()), 5000, 'bad file logged');
    const mark2 = got.messages.length;
    await sleep(500);
    assert.deepEqual([...new Set(got.messages.slice(mark2).map((m) => m.topic))], ['s/a'], 'old rules still apply');

    // A password file that does not load (a plain-text line): logged with its line, the old users stay.
    const good = readFileSync(pw, 'utf8');
    writeFileSync(pw, 'late:plain-text\n');
    b.proc.kill('SIGHUP');
    await eventually(() => /password file not loaded, the old one stays: .*passwd:1/.test(b.stderr()), 5000, 'bad password file logged');
    const again = await connect(b.url, { version: 5, username: 'late', password: 'late-pw' });
    clients.push(again);
    await assert.rejects(connectClient(b.url, { version: 5, username: 'late', password: 'plain-text' }), (err) => (err as { code?: number }).code === 0x86, 'the refused file\'s password does not log in');
    writeFileSync(pw, good);

    running = false;
    await traffic;
    assert.equal(closes, 0, 'no connection was dropped');
    assert.ok(b.alive(), 'the broker is alive after four SIGHUPs');
    await assert.rejects(connectClient(b.url, { version: 5, username: 'late', password: 'wrong' }));
  } finally {
    await endAll(clients);
    assert.equal(await b.stop(), 0);
  }
});

test('SIGHUP without security files or TLS does not stop the broker', { skip: isMosquitto ? 'Shoal only' : false }, async () => {
  const b = await startBroker({ shards: 1 });
  try {
    b.proc.kill('SIGHUP');
    await sleep(300);
    assert.ok(b.alive());
    const c = await connect(b.url);
    await endAll([c]);
  } finally { assert.equal(await b.stop(), 0); }
});

test('SIGHUP reloads TLS certificates: new handshakes see the new certificate, old connections stay, a broken file keeps the old one', { skip: isMosquitto ? 'Shoal only' : skipWithoutOpenssl, timeout: 60_000 }, async () => {
  const first = selfSigned('first');
  const second = selfSigned('second');
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  writeFileSync(cert, first.certPem);
  writeFileSync(key, first.keyPem);
  const b = await startBroker({ shards: 1, extraArgs: ['--tls-port', '0', '--tls-cert', cert, '--tls-key', key] });
  try {
    const url = b.urls.mqtts!;
    const old = await connect(url, { ca: first.certPem, servername: 'localhost', rejectUnauthorized: true });
    writeFileSync(cert, second.certPem);
    writeFileSync(key, second.keyPem);
    b.proc.kill('SIGHUP');
    await eventually(() => /TLS certificates and keys loaded/.test(b.stderr()), 5000, 'tls reload logged');
    const fresh = await connect(url, { ca: second.certPem, servername: 'localhost', rejectUnauthorized: true });
    await assert.rejects(connectClient(url, { ca: first.certPem, servername: 'localhost', rejectUnauthorized: true }));
    assert.ok(old.connected, 'the connection made before the reload is still up');
    // a broken certificate file keeps the certificate loaded last, and says why
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    b.proc.kill('SIGHUP');
    await eventually(() => /TLS certificates not loaded, the old ones stay/.test(b.stderr()), 5000, 'bad tls file logged');
    const still = await connect(url, { ca: second.certPem, servername: 'localhost', rejectUnauthorized: true });
    assert.ok(old.connected && fresh.connected, 'nobody dropped by the failed reload');
    await endAll([old, fresh, still]);
  } finally { assert.equal(await b.stop(), 0); }
});

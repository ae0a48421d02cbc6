// MQTT 5 enhanced authentication served by hook modules (docs/hooks.md, "Enhanced
// authentication"): examples/hooks/challenge.mjs's TOY-CHALLENGE alone and stacked with the
// password file (which serves SCRAM-SHA-256 first), re-authentication with AUTH 0x19 through
// it, a method nobody serves (0x8C), and a serving hook that throws, rejects or never answers
// (CONNACK 0x80 within --hook-timeout, one log line each, other clients not held). The real
// broker as a child process, raw AUTH packets over TCP (MQTT.js cannot send AUTH 0x19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { connect, eventually, uid } from '../helpers/clients.ts';
import { RawClient, codeOf, describeFrame, type Frame } from '../helpers/raw.ts';
import { scramVerifier } from '../../src/worker/auth/users.ts';

const CHALLENGE = resolve(import.meta.dirname, '..', '..', 'examples', 'hooks', 'challenge.mjs');
const METHOD = 'TOY-CHALLENGE';
const skip = isMosquitto ? 'Shoal only: hook modules' : false;

type Props = Record<string, unknown>;
const propsOf = (p: Frame): Props => ((p as { properties?: Props }).properties ?? {});
const auth = (reasonCode: number, method: string, data?: Buffer): never =>
  ({ cmd: 'auth', reasonCode, properties: { authenticationMethod: method, ...(data === undefined ? {} : { authenticationData: data }) } }) as never;

/** A broker with a config file holding `yaml` (the hooks: list) and these flags. */
async function brokerWith(dir: string, yaml: string, shards: number, extra: string[] = []): Promise<Broker> {
  const cfg = join(dir, 'shoal.yaml');
  writeFileSync(cfg, yaml);
  return startBroker({ shards, extraArgs: ['--config', cfg, '--log-format', 'json', ...extra] });
}

const hooksYaml = (more = ''): string =>
  `hooks:\n  - module: ${JSON.stringify(CHALLENGE)}\n    options: {secrets: {alice: s3cret, bob: hunter2}}\n${more}`;

async function open(b: Broker, props: Props, extra: Props = {}): Promise<RawClient> {
  const c = await RawClient.open(b.port, { version: 5 });
  c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: uid('ea'), properties: props, ...extra } as never);
  return c;
}

/** Only a CONNACK / DISCONNECT with `reason` before the close. */
async function closedWith(c: RawClient, cmd: 'connack' | 'disconnect', reason: number, what: string): Promise<Frame> {
  const frames = await c.expectClose(5000);
  assert.equal(frames.length, 1, `${what}: ${frames.map(describeFrame).join('; ') || 'nothing'}`);
  assert.equal(frames[0]!.cmd, cmd, `${what}: ${describeFrame(frames[0]!)}`);
  assert.equal(codeOf(frames[0]!), reason, `${what}: ${describeFrame(frames[0]!)}`);
  return frames[0]!;
}

/** The challenge's answer: HMAC-SHA256(secret, challenge). */
const respond = (secret: string, challenge: Frame): Buffer => createHmac('sha256', secret).update(propsOf(challenge).authenticationData as Buffer).digest();

/** CONNECT with TOY-CHALLENGE through to CONNACK 0x00; returns the connected client. */
async function challengeLogin(b: Broker, user: string, secret: string): Promise<RawClient> {
  const c = await open(b, { authenticationMethod: METHOD, authenticationData: Buffer.from(user) });
  const ch = await c.expectPacket('auth');
  assert.equal(codeOf(ch), 0x18, describeFrame(ch));
  assert.equal(propsOf(ch).authenticationMethod, METHOD, '[MQTT-4.12.0-5] the method of CONNECT');
  assert.equal((propsOf(ch).authenticationData as Buffer).length, 32, 'a 32-byte challenge');
  c.sendPacket(auth(0x18, METHOD, respond(secret, ch)));
  const ack = await c.expectPacket('connack');
  assert.equal(codeOf(ack), 0, describeFrame(ack));
  assert.equal(propsOf(ack).authenticationMethod, METHOD);
  assert.equal((propsOf(ack).authenticationData as Buffer).toString(), `welcome ${user}`);
  return c;
}

for (const shards of [1, 4]) {
  test(`a hook module serves an Authentication Method: exchange, wrong response 0x87, re-authentication with AUTH 0x19, a method nobody serves 0x8C (${shards} shard${shards > 1 ? 's' : ''})`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-enhanced-'));
    const b = await brokerWith(dir, hooksYaml(), shards);
    try {
      // Several logins, so with 4 shards more than one shard's hook serves one.
      const clients = await Promise.all(['alice', 'bob', 'alice', 'bob'].map((u) => challengeLogin(b, u, u === 'alice' ? 's3cret' : 'hunter2')));
      const topic = uid('ea-topic');
      await clients[0]!.subscribe(topic, 1);
      clients[1]!.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('through'), qos: 1, messageId: 3, retain: false, dup: false } as never);
      await clients[1]!.expectPacket('puback');
      assert.equal(((await clients[0]!.waitFor('publish')) as unknown as { payload: Buffer }).payload.toString(), 'through');

      // Re-authentication through the hook, twice, while the connection carries on.
      const c = clients[0]!;
      for (let round = 0; round < 2; round++) {
        c.sendPacket(auth(0x19, METHOD, Buffer.from('alice')));
        const ch = await c.waitFor('auth');
        assert.equal(codeOf(ch), 0x18, describeFrame(ch));
        c.sendPacket({ cmd: 'pingreq' } as never); // other packets flow during a re-authentication
        await c.waitFor('pingresp');
        c.sendPacket(auth(0x18, METHOD, respond('s3cret', ch)));
        const done = await c.waitFor('auth');
        assert.equal(codeOf(done), 0x00, describeFrame(done));
        assert.equal((propsOf(done).authenticationData as Buffer).toString(), 'welcome alice');
      }
      // A failed re-authentication: DISCONNECT 0x87 with the hook's Reason String [MQTT-4.12.1-2].
      const d = clients[2]!;
      d.sendPacket(auth(0x19, METHOD, Buffer.from('alice')));
      const ch = await d.waitFor('auth');
      d.sendPacket(auth(0x18, METHOD, respond('not the secret', ch)));
      const f = await closedWith(d, 'disconnect', 0x87, 'failed re-authentication');
      assert.equal(propsOf(f).reasonString, 'wrong response');

      // Wrong response and unknown user at CONNECT: the exchange runs, then 0x87.
      for (const [user, secret] of [['alice', 'wrong'], ['nobody', 's3cret']] as const) {
        const w = await open(b, { authenticationMethod: METHOD, authenticationData: Buffer.from(user) });
        const wch = await w.expectPacket('auth');
        assert.equal(codeOf(wch), 0x18, `${user}: challenged like anyone`);
        w.sendPacket(auth(0x18, METHOD, respond(secret, wch)));
        await closedWith(w, 'connack', 0x87, `${user}/${secret}`);
      }
      // A method no hook serves [MQTT-4.12.0-1]; SCRAM-SHA-256 too, with no password file.
      for (const m of ['KERBEROS', 'SCRAM-SHA-256']) {
        const k = await open(b, { authenticationMethod: m, authenticationData: Buffer.from('x') });
        await closedWith(k, 'connack', 0x8c, m);
      }
      // Plain CONNECTs are not the method's business: allowed (no password file, no other hook).
      (await connect(b.url, { version: 5, clientId: uid('plain') })).end(true);
      for (const x of clients) x.destroy();
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('stacked with the password file: the file serves SCRAM-SHA-256 and user/password first, the module its own method; a serving hook that throws, rejects or never answers gets 0x80 in the hook timeout with one log line, and holds no other client', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-enhanced-'));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, `carol:${scramVerifier('pw-carol', 4096)}\n`);
  // A second module that also claims SCRAM-SHA-256 (never asked: the file serves it first) and
  // serves BROKEN, whose answer fails as its Authentication Data says.
  const broken = join(dir, 'broken.mjs');
  writeFileSync(broken, `export default () => ({
  authMethods: ['SCRAM-SHA-256', 'BROKEN'],
  onAuthPacket(client, method, data) {
    if (method === 'SCRAM-SHA-256') return { fail: 0x87, reasonString: 'the module was asked' };
    const how = data?.toString();
    if (how === 'throw') throw new Error('broken hook (test)');
    if (how === 'reject') return Promise.reject(new Error('broken hook rejects (test)'));
    if (how === 'hang') return new Promise(() => {});
    return { success: true };
  },
  onConnectAuthenticate(client) { return client.clientId.startsWith('moved-') ? { fail: 0x9d, serverReference: 'other.example:1883', reasonString: 'moved' } : true; },
});\n`);
  const b = await brokerWith(dir, hooksYaml(`  - ${JSON.stringify(broken)}\n`), 1, ['--password-file', passwd, '--hook-timeout', '400']);
  try {
    // SCRAM-SHA-256: the password file's server-first message, not the module's refusal.
    const s = await open(b, { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('n,,n=carol,r=abcdefgh') });
    const sf = await s.expectPacket('auth');
    assert.equal(codeOf(sf), 0x18, describeFrame(sf));
    assert.match((propsOf(sf).authenticationData as Buffer).toString(), /^r=abcdefgh.+,s=.+,i=4096$/);
    s.destroy();
    // The module's method beside the file; the file's user/password check, then the module's.
    (await challengeLogin(b, 'bob', 'hunter2')).destroy();
    (await connect(b.url, { version: 5, username: 'carol', password: 'pw-carol' })).end(true);
    await closedWith(await open(b, {}, { username: 'carol', password: Buffer.from('wrong') }), 'connack', 0x86, 'wrong password');
    // The file allows, the module refuses with a Refusal: its code and Server Reference reach CONNACK.
    const moved = await closedWith(await open(b, {}, { clientId: uid('moved-'), username: 'carol', password: Buffer.from('pw-carol') }), 'connack', 0x9d, 'moved');
    assert.equal(propsOf(moved).serverReference, 'other.example:1883');
    assert.equal(propsOf(moved).reasonString, 'moved');
    // Anonymous: refused by the file (no --allow-anonymous); an enhanced authentication is not.
    await closedWith(await open(b, {}), 'connack', 0x87, 'anonymous');
    const ok = await open(b, { authenticationMethod: 'BROKEN', authenticationData: Buffer.from('fine') });
    assert.equal(codeOf(await ok.expectPacket('connack')), 0);
    ok.destroy();

    const failures = (): number => b.stderr().split('\n').filter((l) => l.includes('hook onAuthPacket failed')).length;
    for (const how of ['throw', 'reject']) {
      const before = failures();
      await closedWith(await open(b, { authenticationMethod: 'BROKEN', authenticationData: Buffer.from(how) }), 'connack', 0x80, how);
      await eventually(() => failures() === before + 1, 3000, `one log line for ${how}`);
    }
    // Never answers: refused after --hook-timeout; meanwhile another client on the shard is served.
    const before = failures();
    const t0 = Date.now();
    const hung = await open(b, { authenticationMethod: 'BROKEN', authenticationData: Buffer.from('hang') });
    const refused = closedWith(hung, 'connack', 0x80, 'hang');
    const other = await connect(b.url, { version: 5, username: 'carol', password: 'pw-carol' });
    const topic = uid('meanwhile');
    await other.subscribeAsync(topic, { qos: 1 });
    await other.publishAsync(topic, 'not held', { qos: 1 });
    assert.ok(Date.now() - t0 < 380, `the other client was served while the hook hung (${Date.now() - t0} ms)`);
    await refused;
    const took = Date.now() - t0;
    assert.ok(took >= 380 && took < 3000, `refused after the hook timeout (${took} ms)`);
    await eventually(() => failures() === before + 1, 3000, 'one log line for the timeout');
    assert.match(b.stderr(), /hook onAuthPacket failed: no answer within the hook timeout \(400 ms\)/);
    other.end(true);
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

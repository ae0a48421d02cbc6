// The password file and the ACL file wired into the broker: a password file written by Debian's
// real mosquitto_passwd, Mosquitto acl_file rules, and Debian's mosquitto_pub / mosquitto_sub
// (and MQTT.js for reason codes) against Shoal, for MQTT 3.1.1 and 5 with 1 and 4 shards.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { collect, connect, connectClient, end, endAll, publish, sleep, subscribe, uid } from '../helpers/clients.ts';
import { dataLines, run, startSub } from '../helpers/mosquitto-cli.ts';
import type { MqttClient } from 'mqtt';
import type { ISubackPacket } from 'mqtt-packet';

const skip = isMosquitto ? 'Shoal only: its own flags' : spawnSync('sh', ['-c', 'command -v mosquitto_passwd && command -v mosquitto_sub']).status !== 0 ? 'mosquitto_passwd / mosquitto-clients not installed' : false;

const dir = mkdtempSync(join(tmpdir(), 'shoal-access-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PASSWD = join(dir, 'passwd');
const ACL = join(dir, 'acl');
if (!skip) {
  // The real tool writes the file Shoal reads ($7$, PBKDF2-SHA512); `shoal passwd` adds carol
  // to the same file (one file from both tools).
  for (const [i, [user, pw]] of [['alice', 'alice-pw'], ['bob', 'bob-pw'], ['admin', 'admin-pw']].entries()) {
    const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', PASSWD, user!, pw!], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'shoal.js'), 'passwd', '-b', PASSWD, 'carol', 'carol-pw'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(ACL, `# anonymous clients: nothing
user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read $SYS/broker/version

user bob
topic read shared/#
topic write alice/inbox

user admin
topic readwrite #
topic read $SYS/#

user carol
topic read carol/#
`);
}

/** SUBACK's codes by filter, refusals included (MQTT.js rejects the whole call on any). */
async function subackCodes(c: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<Record<string, number>> {
  const names = Object.keys(filters);
  const granted = await new Promise<number[]>((res, rej) => {
    const t = setTimeout(() => rej(new Error('no SUBACK')), 5000);
    c.subscribe(filters, (err, _g, packet) => {
      clearTimeout(t);
      const p = (packet ?? (err as { packet?: ISubackPacket } | null)?.packet) as ISubackPacket | undefined;
      if (p === undefined) { rej(err ?? new Error('no SUBACK packet')); return; }
      res(p.granted as number[]);
    });
  });
  return Object.fromEntries(names.map((n, i) => [n, granted[i]!]));
}

const mosq = (version: number): string[] => ['-V', version === 5 ? 'mqttv5' : 'mqttv311'];

forEachConfig(({ version, shards }) => {
  const b = useBroker({ shards, sysInterval: 1, extraArgs: ['--password-file', PASSWD, '--acl-file', ACL] });
  const as = (user: string, extra: Record<string, unknown> = {}) => connect(b.url, { version, username: user, password: `${user}-pw`, ...extra });

  test('passwords mosquitto_passwd and shoal passwd wrote log in; a wrong one, an unknown user and no user are refused', { skip }, async () => {
    for (const user of ['alice', 'carol']) {
      const ok = await run('mosquitto_pub', ['-p', String(b.port), ...mosq(version), '-u', user, '-P', `${user}-pw`, '-t', `${user}/x`, '-m', 'hi', '-q', '1']);
      assert.equal(ok.code, 0, `${user}: ${ok.stderr}`);
    }
    for (const args of [['-u', 'alice', '-P', 'nope'], ['-u', 'mallory', '-P', 'x'], []]) {
      const r = await run('mosquitto_pub', ['-p', String(b.port), ...mosq(version), ...args, '-t', 'alice/x', '-m', 'hi']);
      assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /refused|not authori[sz]ed|bad user name/i, args.join(' '));
    }
    await assert.rejects(connectClient(b.url, { version, username: 'alice', password: 'wrong' }), /bad user name|not authori|Connection refused/i);
  });

  test('SUBSCRIBE: a filter the ACL never serves is refused alone (0x87 / 0x80), the others granted', { skip }, async () => {
    const c = await as('alice');
    try {
      const by = await subackCodes(c, { 'alice/#': { qos: 1 }, 'nothing/#': { qos: 1 }, 'alice/secret/+': { qos: 0 }, '$SYS/broker/version': { qos: 0 } });
      const refused = version === 5 ? 0x87 : 0x80;
      assert.deepEqual(by, { 'alice/#': 1, 'nothing/#': refused, 'alice/secret/+': refused, '$SYS/broker/version': 0 });
    } finally { await end(c); }
  });

  test('PUBLISH: denied v5 QoS 1 / QoS 2 get PUBACK / PUBREC 0x87, 3.1.1 is acknowledged; none is delivered', { skip }, async () => {
    const admin = await as('admin');
    const bob = await as('bob');
    try {
      const got = collect(admin);
      await subscribe(admin, 'alice/#', { qos: 1 });
      if (version === 5) await assert.rejects(publish(bob, 'alice/denied', 'x', { qos: 1 }), /Not authorized|135/);
      else await publish(bob, 'alice/denied', 'x', { qos: 1 });
      if (version === 5) await assert.rejects(publish(bob, 'alice/denied', 'x2', { qos: 2 }), /Not authorized|135/);
      else await publish(bob, 'alice/denied', 'x2', { qos: 2 });
      await publish(bob, 'alice/denied', 'x', { qos: 0 });
      await publish(bob, 'alice/inbox', 'allowed', { qos: 1 });
      await got.waitFor(1);
      await sleep(150);
      assert.deepEqual(got.topics(), ['alice/inbox']);
    } finally { await endAll([admin, bob]); }
  });

  test('delivery: a wildcard subscription gets only the topics the client may read (mosquitto_sub)', { skip }, async () => {
    const sub = await startSub(['-p', String(b.port), ...mosq(version), '-u', 'alice', '-P', 'alice-pw', '-t', 'alice/#', '-q', '1', '-F', 'DATA|%t|%p', '-W', '8']);
    const admin = await as('admin');
    try {
      for (const t of ['alice/secret/k', 'alice/a', 'alice/secret/x/y', 'alice/b']) await publish(admin, t, t, { qos: 1 });
      await publish(admin, 'alice/end', 'end', { qos: 1 });
      await sleep(300);
    } finally {
      await end(admin);
      sub.proc.kill('SIGINT');
    }
    const lines = dataLines((await sub.done).stdout);
    assert.deepEqual(lines, ['alice/a|alice/a', 'alice/b|alice/b', 'alice/end|end']);
  });

  test('retained messages on SUBSCRIBE are checked too', { skip }, async () => {
    const admin = await as('admin');
    const t = uid('r');
    await publish(admin, `alice/${t}/ok`, 'ok', { qos: 1, retain: true });
    await publish(admin, `alice/secret/${t}`, 'no', { qos: 1, retain: true });
    const alice = await as('alice');
    try {
      const got = collect(alice);
      await subscribe(alice, ['alice/#'], { qos: 1 });
      await got.waitFor(1);
      await sleep(200);
      assert.ok(got.topics().includes(`alice/${t}/ok`));
      assert.ok(!got.topics().some((x) => x.startsWith('alice/secret/')), got.topics().join(','));
    } finally {
      await publish(admin, `alice/${t}/ok`, '', { qos: 1, retain: true });
      await publish(admin, `alice/secret/${t}`, '', { qos: 1, retain: true });
      await endAll([admin, alice]);
    }
  });

  test('$SYS is readable only where the ACL says so', { skip }, async () => {
    const alice = await as('alice');
    const bob = await as('bob');
    try {
      const a = collect(alice);
      await subscribe(alice, '$SYS/#');
      assert.deepEqual(await subackCodes(bob, { '$SYS/#': { qos: 0 } }), { '$SYS/#': version === 5 ? 0x87 : 0x80 });
      await a.waitFor(1, 4000);
      await sleep(1200);
      assert.deepEqual([...new Set(a.topics())], ['$SYS/broker/version']);
    } finally { await endAll([alice, bob]); }
  });

  test('a will is published only to a topic the client may write', { skip }, async () => {
    const admin = await as('admin');
    const got = collect(admin);
    await subscribe(admin, ['alice/will/#', 'carol/will'], { qos: 1 });
    const alice = await as('alice', { will: { topic: 'alice/will/x', payload: Buffer.from('bye'), qos: 1, retain: false } });
    const carol = await as('carol', { will: { topic: 'carol/will', payload: Buffer.from('bye'), qos: 1, retain: false } });
    try {
      alice.stream.destroy();
      carol.stream.destroy();
      await got.waitFor(1);
      await sleep(300);
      assert.deepEqual(got.topics(), ['alice/will/x']);
    } finally { await endAll([admin, alice, carol]); }
  });

  test('refusals and denials are counted in $SYS/broker/security/', { skip }, async () => {
    const admin = await as('admin');
    try {
      const got = collect(admin, (t) => t.startsWith('$SYS/broker/security/'));
      await subscribe(admin, '$SYS/broker/security/#');
      await got.waitFor(13, 4000);
      const value = (t: string): number => Number(got.messages.filter((m) => m.topic === t).at(-1)!.payload.toString());
      assert.ok(value('$SYS/broker/security/auth-failed') >= 1);
      assert.ok(value('$SYS/broker/security/acl-denied/subscribe') >= 1);
    } finally { await end(admin); }
  });
});

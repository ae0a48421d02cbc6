// The password and ACL files are hooks of the registry, asked before the modules' (docs/hooks.md,
// "Order"): a CONNECT the password file refuses, a filter or topic the ACL file denies, never
// reaches a module's onConnectAuthenticate / onACLCheck; what the files allow, the module then
// decides, at CONNECT, SUBSCRIBE, PUBLISH and delivery. A broker embedded here with both files
// and the recording hook (test/hooks/fixtures/recorder.ts: refuses the password "wrong" and
// topics under denied/), real MQTT.js clients over TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker } from '../../src/index.ts';
import { encodeHash, hashPassword } from '../../src/shared/auth/password-file.ts';
import { collect, connect, connectClient, sleep } from '../helpers/clients.ts';

const RECORDER = new URL('../hooks/fixtures/recorder.ts', import.meta.url).href;
interface Rec { point: string; clientId?: string; topic?: string; write?: boolean; password?: string }
const code = (n: number) => (e: Error & { code?: number }): boolean => e.code === n;

test('password and ACL files decide before the hook modules, which decide what the files allow', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-file-hooks-'));
  const calls = join(dir, 'calls.jsonl');
  writeFileSync(join(dir, 'passwd'), `alice:${encodeHash(hashPassword('pw'))}\nwendy:${encodeHash(hashPassword('wrong'))}\n`);
  writeFileSync(join(dir, 'acl'), 'user alice\ntopic readwrite open/#\ntopic readwrite denied/#\n');
  const broker = await createBroker({ host: '127.0.0.1', port: 0, shards: 1, accept: 'main', persistence: 'memory', logLevel: 'warn', sysInterval: 0,
    passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), hooks: [{ module: RECORDER, options: { file: calls } }] });
  const recs = (p: string, clientId: string): Rec[] => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec) : []).filter((r) => r.point === p && r.clientId === clientId);
  try {
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;

    // CONNECT: the file first; the module hears only of what the file let in, and may refuse it.
    await assert.rejects(connectClient(url, { version: 5, clientId: 'guess', username: 'alice', password: 'nope' }), code(0x86));
    assert.equal(recs('onConnectAuthenticate', 'guess').length, 0, 'a wrong password never reaches the module');
    await assert.rejects(connectClient(url, { version: 5, clientId: 'w', username: 'wendy', password: 'wrong' }), code(0x86));
    assert.equal(recs('onConnectAuthenticate', 'w').length, 1, 'the file allowed wendy, the module refused her');
    const alice = await connect(url, { version: 5, clientId: 'a', username: 'alice', password: 'pw' });
    assert.deepEqual(recs('onConnectAuthenticate', 'a').map((r) => r.password), ['pw']);

    // SUBSCRIBE: closed/# is the file's refusal (not asked of the module); denied/# the module's.
    const granted = await alice.subscribeAsync({ 'closed/#': { qos: 1 }, 'open/#': { qos: 1 }, 'denied/#': { qos: 1 } }).then(() => null, (e: { packet?: { granted: number[] } }) => e.packet?.granted);
    assert.deepEqual(granted, [0x87, 1, 0x87]);
    const asked = (write: boolean): string[] => recs('onACLCheck', 'a').filter((r) => r.write === write).map((r) => r.topic!);
    assert.deepEqual(asked(false), ['open/#', 'denied/#']);

    // PUBLISH: the same order for write.
    await assert.rejects(alice.publishAsync('closed/x', 'x', { qos: 1 }), code(0x87));
    await assert.rejects(alice.publishAsync('denied/x', 'x', { qos: 1 }), code(0x87));
    assert.deepEqual(asked(true), ['denied/x']);

    // Delivery: what the file lets alice read, the module is asked about per message.
    const got = collect(alice);
    await alice.publishAsync('open/a', 'a', { qos: 1 });
    await got.waitFor(1);
    await sleep(100);
    assert.deepEqual(got.topics(), ['open/a']);
    assert.deepEqual(asked(false), ['open/#', 'denied/#', 'open/a']);
    alice.end(true);
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--auth-hook is asked after the password file and before the hook modules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-file-hooks-'));
  const calls = join(dir, 'calls.jsonl');
  // test/fixtures/auth-hook.ts refuses the user "moved" with 0x9D and a Server Reference, and
  // passes every other CONNECT to its base (allow-all beside a password file).
  writeFileSync(join(dir, 'passwd'), `moved:${encodeHash(hashPassword('pw'))}\nwendy:${encodeHash(hashPassword('wrong'))}\n`);
  const broker = await createBroker({ host: '127.0.0.1', port: 0, shards: 1, persistence: 'memory', logLevel: 'warn', sysInterval: 0,
    passwordFile: join(dir, 'passwd'), authHook: new URL('../fixtures/auth-hook.ts', import.meta.url).pathname, hooks: [{ module: RECORDER, options: { file: calls } }] });
  const asked = (clientId: string): number => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec) : []).filter((r) => r.point === 'onConnectAuthenticate' && r.clientId === clientId).length;
  try {
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;
    // The file first: a wrong password is its 0x86, not the module's 0x9D.
    await assert.rejects(connectClient(url, { version: 5, clientId: 'm1', username: 'moved', password: 'nope' }), code(0x86));
    // The file allows, --auth-hook refuses (0x9D): the hook modules are not asked.
    await assert.rejects(connectClient(url, { version: 5, clientId: 'm2', username: 'moved', password: 'pw' }), code(0x9d));
    assert.equal(asked('m1') + asked('m2'), 0);
    // Both allow: the module decides last (the recorder refuses the password "wrong").
    await assert.rejects(connectClient(url, { version: 5, clientId: 'w', username: 'wendy', password: 'wrong' }), code(0x86));
    assert.equal(asked('w'), 1);
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

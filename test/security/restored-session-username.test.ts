// Defect of issue #13: a persistent session restored from the store after a restart had no user
// name, so with an ACL file its will was withheld and ACL checks made on its behalf used the
// wrong identity. The user name is now kept with the session record; records written before
// (no user-name bits in the flags) still read, as "identity unknown": nothing is allowed on
// their behalf until the client connects again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto, startBroker, type Broker } from '../helpers/broker.ts';
import mqtt from 'mqtt';
import { collect, connect, connectClient, end, endAll, eventually, publish, sleep, subscribe, uid, withTimeout } from '../helpers/clients.ts';
import { decodeSession, encodeSession } from '../../src/shared/store/codec.ts';
import { StoreErrorCode } from '../../src/shared/store/errors.ts';
import { createStore } from '../../src/shared/store/index.ts';
import type { StoredSession } from '../../src/shared/store/types.ts';

const skip = isMosquitto ? 'Shoal only: its store and flags' : false;
const dir = mkdtempSync(join(tmpdir(), 'shoal-restored-user-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PASSWD = join(dir, 'passwd');
const ACL = join(dir, 'acl');
if (!skip) {
  for (const user of ['alice', 'watcher']) {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'shoal.js'), 'passwd', ...(user === 'alice' ? ['-c'] : []), '-b', PASSWD, user, `${user}-pw`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  // alice may write her own wills and feed/#; anonymous clients nothing; watcher reads the
  // wills and feed/ok only (so its feed/# subscription is partial: checked at delivery)
  writeFileSync(ACL, 'user alice\ntopic write wills/alice/#\ntopic write feed/#\n\nuser watcher\ntopic read wills/#\ntopic read feed/ok\n');
}

/** A session record exactly as the code before this fix wrote it (CODEC_VERSION 1, flags = has will only). */
const LEGACY_RECORD = '01030401ffffffff000000bec5ad794207000000080000006c65676163792d31010000000700000077696c6c732f2301000000000500000000000000000c00000077696c6c732f6c656761637904000000676f6e65';
const legacy = (): StoredSession => ({
  clientId: 'legacy-1', protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 1764633600000, nextPacketId: 7,
  subscriptions: [{ filter: 'wills/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 }],
  will: { topic: 'wills/legacy', payload: Buffer.from('gone'), qos: 1, retain: true, properties: null, delayMs: 0 },
});

test('restored session username: the store record keeps the user name (or none), and reads a record of the old format as identity unknown', () => {
  const old = decodeSession(Buffer.from(LEGACY_RECORD, 'hex'));
  assert.deepEqual(old, legacy(), 'the old record reads, with no username field');
  assert.equal('username' in old, false);
  assert.equal(encodeSession(legacy()).toString('hex'), LEGACY_RECORD, 'a session without the field is written as before');
  for (const username of ['alice', '', 'ünï cödé', null]) {
    const s = { ...legacy(), username };
    assert.deepEqual(decodeSession(encodeSession(s)), s, String(username));
  }
  const withUser = encodeSession({ ...legacy(), username: 'alice' });
  for (let n = 0; n < withUser.length; n++) assert.throws(() => decodeSession(withUser.subarray(0, n)), { code: StoreErrorCode.CORRUPT }, `cut at ${n}`);
});

/** Waits for a retained message on `topic` for a fresh watcher; null when none came within `ms`. */
async function retainedFor(b: Broker, version: 4 | 5, topic: string, ms: number): Promise<string | null> {
  const w = await connect(b.url, { version, username: 'watcher', password: 'watcher-pw' });
  try {
    const got = collect(w);
    await subscribe(w, topic, { qos: 1 });
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const m = got.messages.find((x) => x.topic === topic);
      if (m !== undefined) return m.payload.toString();
      await sleep(25);
    }
    return null;
  } finally {
    await end(w);
  }
}

for (const [version, shards] of [[4, 1], [5, 2]] as const) {
  test(`restored session username (MQTT ${version === 5 ? '5.0' : '3.1.1'}, ${shards} shard(s)): after a SIGKILL restart the will is checked as its user's, published where allowed and withheld where not; the offline session's queue gets only what its user may read`, { skip, timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    const args = ['--password-file', PASSWD, '--acl-file', ACL];
    let b = await startBroker({ shards, persistence: 'durable', dataDir, extraArgs: args });
    const ok = uid('alice-ok');
    const bad = uid('alice-bad');
    const persistent = version === 5 ? { clean: true, properties: { sessionExpiryInterval: 300 } } : { clean: false };
    const clients = [];
    try {
      for (const [id, topic] of [[ok, 'wills/alice/status'], [bad, 'wills/other/status']] as const) {
        const c = await connectClient(b.url, { version, clientId: id, username: 'alice', password: 'alice-pw', ...persistent,
          will: { topic, payload: Buffer.from(`${id} gone`), qos: 1, retain: true } });
        clients.push(c.client);
      }
      const watcherId = uid('watcher');
      const watcher = await connect(b.url, { version, clientId: watcherId, username: 'watcher', password: 'watcher-pw', ...persistent });
      clients.push(watcher);
      await subscribe(watcher, 'feed/#', { qos: 1 });
      await sleep(300); // the durable commit of the sessions
      await b.kill('SIGKILL');
      for (const c of clients) c.end(true);
      b = await startBroker({ shards, persistence: 'durable', dataDir, extraArgs: args });
      // the wills were pending when the broker died: they go out at load, checked as alice's
      assert.equal(await retainedFor(b, version, 'wills/alice/status', 5000), `${ok} gone`, 'the will alice may write is published after the restart');
      assert.equal(await retainedFor(b, version, 'wills/other/status', 500), null, 'the will alice may not write is withheld');
      await eventually(() => /will not published: denied by the ACL/.test(b.stderr()) && b.stderr().includes(bad), 5000, 'the denied will logged');
      assert.ok(!b.stderr().split('\n').some((l) => l.includes('will not published') && l.includes(ok)), 'the allowed will was not denied');
      // the watcher's restored session is offline: what reaches its queue is checked as watcher's
      const pub = await connect(b.url, { version, username: 'alice', password: 'alice-pw' });
      clients.push(pub);
      await publish(pub, 'feed/secret', 'not for watcher', { qos: 1 });
      await publish(pub, 'feed/ok', 'for watcher', { qos: 1 });
      // MQTT.js directly: the queued messages follow CONNACK at once, so listen before it comes
      const back = mqtt.connect(b.url, { protocolVersion: version, clientId: watcherId, username: 'watcher', password: 'watcher-pw', ...persistent, clean: false, reconnectPeriod: 0 });
      clients.push(back);
      const got = collect(back);
      const connack = await withTimeout(new Promise<{ sessionPresent: boolean }>((res) => back.once('connect', res)), 5000, 'the watcher back');
      assert.equal(connack.sessionPresent, true);
      await got.waitFor(1, 5000, (m) => m.topic === 'feed/ok');
      await sleep(300);
      assert.deepEqual(got.messages.map((m) => m.topic), ['feed/ok'], 'feed/secret was not queued for watcher');
    } finally {
      await endAll(clients);
      await b.stop();
    }
  });
}

test('restored session username: a session stored by the old format is read, its will withheld (identity unknown), and its client finds it again', { skip, timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(dir, 'legacy-'));
  const store = createStore({ persistence: 'durable', dataDir });
  await store.open();
  await store.putSession(legacy()); // encoded byte for byte as the old code did (first test)
  await store.close();
  const b = await startBroker({ shards: 1, persistence: 'durable', dataDir, extraArgs: ['--password-file', PASSWD, '--acl-file', ACL, '--allow-anonymous'] });
  try {
    await eventually(() => /will not published: denied by the ACL/.test(b.stderr()) && b.stderr().includes('legacy-1'), 5000, 'the legacy will withheld and logged');
    assert.equal(await retainedFor(b, 4, 'wills/legacy', 500), null);
    const c = await connectClient(b.url, { version: 4, clientId: 'legacy-1', clean: false });
    assert.equal(c.connack.sessionPresent, true, 'the old record is the session the client finds');
    await end(c.client);
  } finally {
    await b.stop();
  }
});

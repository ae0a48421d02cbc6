// Every limit flag hit for real: the answer the client gets, the $SYS counter, the log line.
import { after, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHash, hashPassword } from '../../src/shared/auth/password-file.ts';
import assert from 'node:assert/strict';
import net from 'node:net';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { collect, connect, connectClient, end, endAll, eventually, publish, sleep, subscribe, uid, type MqttClient } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only: its own flags' : false;

/** The latest value of a $SYS/broker/security/ counter, read by a client subscribed to it. */
async function counter(url: string, name: string, atLeast = 1, clientId = uid('dev-sys')): Promise<number> {
  const c = await connect(url, { clientId });
  try {
    const got = collect(c, (t) => t === `$SYS/broker/security/${name}`);
    await subscribe(c, `$SYS/broker/security/${name}`);
    let v = 0;
    await eventually(() => { const m = got.messages.at(-1); v = m === undefined ? 0 : Number(m.payload.toString()); return v >= atLeast; }, 5000, `$SYS ${name} >= ${atLeast}`);
    return v;
  } finally { await end(c); }
}

/** A raw socket: resolves 'closed' when the broker closes it within `ms`, else 'open'. */
function rawSocket(port: number, ms = 1500): Promise<{ s: net.Socket; result: Promise<'closed' | 'open'> }> {
  return new Promise((res, rej) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => { /* a reset counts as closed */ });
    s.once('connect', () => {
      const result = new Promise<'closed' | 'open'>((r) => {
        const t = setTimeout(() => r('open'), ms);
        s.once('close', () => { clearTimeout(t); r('closed'); });
      });
      res({ s, result });
    });
    s.once('error', rej);
  });
}

const LONG = 'abcdefghij'.repeat(4) + 'k'; // 41 bytes

const refusal = (err: unknown): number | undefined => (err as { code?: number }).code;

describe('--max-connections', { skip }, () => {
  const b = useBroker({ shards: 2, sysInterval: 1, extraArgs: ['--max-connections', '2', '--http-port', '0'] });
  test('beyond it CONNECT is refused: v5 0x97, 3.1.1 code 3; counted and logged', async () => {
    const a = await connect(b.url);
    const c = await connect(b.url);
    try {
      await eventually(async () => {
        try { const x = await connect(b.url, { version: 5 }); await end(x); return false; } catch (err) { return refusal(err) === 0x97; }
      }, 5000, 'v5 refused with 0x97');
      await assert.rejects(connectClient(b.url, { version: 4 }), (err) => refusal(err) === 3);
      assert.match(b.broker.stderr(), /--max-connections reached/);
    } finally { await endAll([a, c]); }
    await sleep(100);
    assert.ok(await counter(b.url, 'limit/connections', 2) >= 2);
    // and in /metrics, summed over the shards
    const text = await (await fetch(`${b.broker.urls.http}/metrics`)).text();
    const hits = [...text.matchAll(/^shoal_limit_hits_total\{shard="\d+",limit="max_connections"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(hits >= 2, text.split('\n').filter((l) => l.includes('limit_hits')).join('\n'));
  });
});

describe('--max-connections-per-ip and --connect-rate', { skip }, () => {
  const perIp = useBroker({ shards: 2, sysInterval: 1, extraArgs: ['--max-connections-per-ip', '3'] });
  test('a fourth socket from one address is closed at once', async () => {
    // which of the four the broker sees last is up to main's accept order: exactly one is closed
    const socks = await Promise.all([0, 1, 2, 3].map(() => rawSocket(perIp.port)));
    try {
      const results = await Promise.all(socks.map((x) => x.result));
      assert.deepEqual(results.sort(), ['closed', 'open', 'open', 'open']);
      assert.match(perIp.broker.stderr(), /--max-connections-per-ip reached/);
    } finally { for (const x of socks) x.s.destroy(); }
    // closing frees the address's places again
    await sleep(200);
    const again = await rawSocket(perIp.port, 500);
    assert.equal(await again.result, 'open');
    again.s.destroy();
    assert.ok(await counter(perIp.url, 'limit/connections-per-ip') >= 1);
  });

  const rate = useBroker({ shards: 2, sysInterval: 1, extraArgs: ['--connect-rate', '3'] });
  test('beyond N new sockets a second from one address, sockets close before CONNECT is read', async () => {
    const socks = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(() => rawSocket(rate.port, 800)));
    const results = await Promise.all(socks.map((x) => x.result));
    for (const x of socks) x.s.destroy();
    // 8 sockets within at most two one-second windows: at most 6 stay open
    assert.ok(results.filter((r) => r === 'closed').length >= 2, results.join(','));
    await sleep(1100);
    assert.ok(await counter(rate.url, 'limit/connect-rate') >= 2);
    assert.match(rate.broker.stderr(), /"counter":"connect-rate","msg":"connection refused: --connect-rate reached for this address"/);
  });
});

describe('--max-publish-rate and --max-publish-bytes', { skip }, () => {
  const b = useBroker({ shards: 1, sysInterval: 1, extraArgs: ['--max-publish-rate', '10'] });
  test('a client past its rate is slowed down (reads paused), and nothing is dropped', async () => {
    const sub = await connect(b.url);
    const pub = await connect(b.url);
    try {
      const got = collect(sub);
      await subscribe(sub, 'rate/#');
      const start = Date.now();
      for (let i = 0; i < 30; i++) pub.publish('rate/x', String(i), { qos: 0 });
      await got.waitFor(30, 10_000);
      const took = Date.now() - start;
      assert.deepEqual(got.payloads(), Array.from({ length: 30 }, (_, i) => String(i)), 'all of them, in order');
      // 10 now, 10 when the next second starts, 10 at the one after: more than one second in all
      assert.ok(took >= 1000, `30 messages at 10/s took ${took} ms`);
      assert.ok(await counter(b.url, 'limit/publish-rate') >= 2);
      assert.match(b.broker.stderr(), /"counter":"publish-rate","msg":"client paused: --max-publish-rate/);
    } finally { await endAll([sub, pub]); }
  });

  const bytes = useBroker({ shards: 1, sysInterval: 1, extraArgs: ['--max-publish-bytes', '20000'] });
  test('bytes per second: 60 KB at 20 KB/s take more than a second, all delivered', async () => {
    const sub = await connect(bytes.url);
    const pub = await connect(bytes.url);
    try {
      const got = collect(sub);
      await subscribe(sub, 'bytes/#');
      const start = Date.now();
      for (let i = 0; i < 12; i++) pub.publish('bytes/x', Buffer.alloc(5000, i), { qos: 0 });
      await got.waitFor(12, 15_000);
      assert.ok(Date.now() - start >= 1000, `took ${Date.now() - start} ms`);
      assert.match(bytes.broker.stderr(), /client paused/);
      assert.ok(await counter(bytes.url, 'limit/publish-rate') >= 1);
    } finally { await endAll([sub, pub]); }
  });
});

describe('topic, subscription, retained and client id limits', { skip }, () => {
  const b = useBroker({
    shards: 2, sysInterval: 1,
    extraArgs: ['--max-topic-levels', '5', '--max-topic-length', '40', '--max-subscriptions-per-client', '2',
      '--max-retained-messages', '2', '--client-id-prefixes', 'dev-,app-'],
  });
  const opts = (version: 4 | 5) => ({ version, clientId: uid('dev-') });

  test('--max-topic-levels / --max-topic-length: SUBACK 0x8F / 0x80, v5 PUBACK 0x90', async () => {
    for (const version of [4, 5] as const) {
      const c = await connect(b.url, opts(version));
      try {
        const codes: number[] = await new Promise((res) => c.subscribe({ 'a/b/c/d/e/f': { qos: 0 }, 'a/b/c/d/e': { qos: 0 }, [LONG]: { qos: 0 } }, (_e, _g, p) => res(((p ?? (_e as unknown as { packet: { granted: number[] } }).packet) as { granted: number[] }).granted)));
        const bad = version === 5 ? 0x8f : 0x80;
        assert.deepEqual(codes, [bad, 0, bad]);
        if (version === 5) await assert.rejects(publish(c, 'x/y/z/w/v/u', 'deep', { qos: 1 }), /Topic Name invalid|144/);
      } finally { await end(c); }
    }
    assert.ok(await counter(b.url, 'limit/topic', 5) >= 5);
    assert.match(b.broker.stderr(), /subscribe refused: filter beyond --max-topic-levels/);
  });

  test('--max-subscriptions-per-client: the third filter gets 0x97 (v5) / 0x80', async () => {
    for (const version of [4, 5] as const) {
      const c = await connect(b.url, opts(version));
      try {
        await subscribe(c, ['s/1', 's/2']);
        const codes: number[] = await new Promise((res) => c.subscribe('s/3', (_e, _g, p) => res(((p ?? (_e as unknown as { packet: { granted: number[] } }).packet) as { granted: number[] }).granted)));
        assert.deepEqual(codes, [version === 5 ? 0x97 : 0x80]);
        await subscribe(c, 's/1'); // a filter it already holds can be subscribed again
      } finally { await end(c); }
    }
    assert.ok(await counter(b.url, 'limit/subscriptions', 2) >= 2);
    assert.match(b.broker.stderr(), /"counter":"subscriptions","msg":"subscribe refused: --max-subscriptions-per-client reached"/);
  });

  test('--max-retained-messages: beyond it not retained; v5 QoS 1 gets 0x97', async () => {
    const c = await connect(b.url, opts(5));
    try {
      await publish(c, 'ret/1', 'one', { qos: 1, retain: true });
      await publish(c, 'ret/2', 'two', { qos: 1, retain: true });
      await assert.rejects(publish(c, 'ret/3', 'three', { qos: 1, retain: true }), /Quota exceeded|151/);
      await publish(c, 'ret/1', 'one again', { qos: 1, retain: true }); // replacing one is no new one
      const r = await connect(b.url, opts(4));
      const got = collect(r);
      await subscribe(r, 'ret/#');
      await got.waitFor(2);
      await sleep(200);
      assert.deepEqual(got.topics().sort(), ['ret/1', 'ret/2']);
      await end(r);
    } finally { await end(c); }
    assert.ok(await counter(b.url, 'limit/retained') >= 1);
    assert.match(b.broker.stderr(), /not retained: --max-retained-messages/);
  });

  test('--client-id-prefixes: other ids are refused with 0x85 / code 2', async () => {
    await assert.rejects(connectClient(b.url, { version: 5, clientId: 'other-1' }), (err) => refusal(err) === 0x85);
    await assert.rejects(connectClient(b.url, { version: 4, clientId: 'other-2' }), (err) => refusal(err) === 2);
    const ok = await connect(b.url, { version: 4, clientId: 'app-1' });
    await end(ok);
    assert.match(b.broker.stderr(), /client id has none of the --client-id-prefixes/);
    assert.ok(await counter(b.url, 'limit/client-id', 2) >= 2);
  });
});

describe('--persistent-client-expiration and --max-retained-bytes', { skip }, () => {
  const b = useBroker({ shards: 2, sysInterval: 1, extraArgs: ['--persistent-client-expiration', '2s', '--max-retained-bytes', '100'] });
  test('--max-retained-bytes: a retained set past the bytes is not retained (v5 QoS 1: 0x97; 3.1.1: published only)', async () => {
    const c5 = await connect(b.url, { version: 5 });
    const c4 = await connect(b.url, { version: 4 });
    const live = collect(c4);
    await subscribe(c4, 'rb/#');
    try {
      await publish(c5, 'rb/1', Buffer.alloc(60), { qos: 1, retain: true });
      await assert.rejects(publish(c5, 'rb/2', Buffer.alloc(60), { qos: 1, retain: true }), /Quota exceeded|151/);
      await publish(c4, 'rb/3', Buffer.alloc(60), { qos: 1, retain: true }); // 3.1.1 cannot be told: delivered, not retained
      await live.waitFor(2);
      const r = await connect(b.url);
      const got = collect(r);
      await subscribe(r, 'rb/#');
      await got.waitFor(1);
      await sleep(200);
      assert.deepEqual(got.topics(), ['rb/1']);
      await end(r);
    } finally { await endAll([c5, c4]); }
    assert.ok(await counter(b.url, 'limit/retained', 2) >= 2);
  });

  test('a 3.1.1 persistent session ends after the duration offline', async () => {
    const id = uid('pce');
    let c: MqttClient = await connect(b.url, { version: 4, clientId: id, clean: false });
    await subscribe(c, 'pce/x', { qos: 1 });
    await end(c);
    c = (await connectClient(b.url, { version: 4, clientId: id, clean: false })).client;
    await end(c);
    const back = await connectClient(b.url, { version: 4, clientId: id, clean: false });
    assert.equal(back.connack.sessionPresent, true, 'present within the duration');
    await end(back.client);
    await sleep(3200);
    const late = await connectClient(b.url, { version: 4, clientId: id, clean: false });
    assert.equal(late.connack.sessionPresent, false, 'gone after it');
    await end(late.client);
    assert.ok(await counter(b.url, 'limit/persistent-client-expiration') >= 1);
    assert.match(b.broker.stderr(), new RegExp(`"client":"${id}","seconds":2,"counter":"persistent-client-expiration","msg":"session ended: --persistent-client-expiration reached offline"`));
  });

  test('a v5 session asking never to expire is bounded too, and CONNACK says so', async () => {
    const v5 = await connectClient(b.url, { version: 5, clean: false, properties: { sessionExpiryInterval: 0xffffffff } });
    assert.equal(v5.connack.properties?.sessionExpiryInterval, 2);
    await end(v5.client);
    const own = await connectClient(b.url, { version: 5, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(own.connack.properties?.sessionExpiryInterval, undefined, 'a finite expiry is the client\'s own');
    await end(own.client);
  });

  test('a v5 session asking at DISCONNECT never to expire is bounded too', async () => {
    const id = uid('pce5');
    const c = await connectClient(b.url, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    await new Promise<void>((res) => c.client.end(false, { properties: { sessionExpiryInterval: 0xffffffff } }, () => res()));
    await sleep(3200);
    const late = await connectClient(b.url, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(late.connack.sessionPresent, false, 'gone after --persistent-client-expiration');
    await end(late.client);
  });
});

describe('failed logins and the log lines', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-logins-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pw = join(dir, 'passwd');
  writeFileSync(pw, `u:${encodeHash(hashPassword('right'))}\n`);
  const b = useBroker({ shards: 2, sysInterval: 1, extraArgs: ['--password-file', pw] });

  test('failures in a row from one address wait longer each time (100, 200, 400 ms), are logged and counted', async () => {
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      await assert.rejects(connectClient(b.url, { version: 5, username: 'u', password: 'wrong', clientId: `bad${i}` }), (err) => refusal(err) === 0x86);
      waits.push(Date.now() - t0);
    }
    assert.ok(waits[1]! >= 90 && waits[2]! >= 190 && waits[3]! >= 390, waits.join(','));
    const log = b.broker.stderr();
    assert.match(log, /"client":"bad3","user":"u","remote":"127\.0\.0\.1:\d+","delayMs":400,"msg":"login failed: bad user name or password"/);
    // a success from the address starts it from zero
    const ok = await connect(b.url, { username: 'u', password: 'right', clientId: 'good' });
    await end(ok);
    const t0 = Date.now();
    await assert.rejects(connectClient(b.url, { version: 4, username: 'u', password: 'wrong' }), (err) => refusal(err) === 4);
    assert.ok(Date.now() - t0 < 90, `first failure after a success answered at once (${Date.now() - t0} ms)`);
    const c = await connect(b.url, { username: 'u', password: 'right', clientId: uid('sys') });
    const got = collect(c, (t) => t === '$SYS/broker/security/auth-failed');
    await subscribe(c, '$SYS/broker/security/auth-failed');
    await eventually(() => Number(got.messages.at(-1)?.payload.toString() ?? 0) >= 5, 5000, 'auth-failed counted');
    await end(c);
  });

  test('connect, disconnect and refused connect are info lines with client, user, address, version, transport, shard', async () => {
    const c = await connect(b.url, { version: 5, username: 'u', password: 'right', clientId: 'logged' });
    await end(c);
    await eventually(() => /"client":"logged","reason":"client DISCONNECT","msg":"client disconnected"/.test(b.broker.stderr()), 3000, 'disconnect line');
    const log = b.broker.stderr();
    assert.match(log, /"level":30,[^\n]*"shard":\d[^\n]*"client":"logged","user":"u","remote":"127\.0\.0\.1:\d+","protocolVersion":5,"transport":"tcp"[^\n]*"msg":"client connected"/);
    assert.match(log, /"client":"bad0"[^\n]*"reason":"0x86","why":"BAD_USER_NAME_OR_PASSWORD","msg":"connect refused"/);
  });
});

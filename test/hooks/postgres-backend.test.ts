// shoal/hooks/postgres against Debian's PostgreSQL (a throw-away cluster started here on a free
// port): comqtt's mqtt_user / mqtt_acl schema, bcrypt and the password file's formats, comqtt's
// unsalted hash types, its ACL semantics (the longest matching filter decides), the per-shard
// cache with its TTL, and PostgreSQL down, or silent, answered "deny" within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { createBroker } from '../../src/index.ts';
import { encodeHash, hashPassword } from '../../src/shared/auth/password-file.ts';
import { Collector, connect, connectClient, eventually, sleep } from '../helpers/clients.ts';
import { postgresBin, startPostgres } from './fixtures/postgres-server.ts';

const bin = postgresBin();
const skip = bin === null ? "needs Debian's postgresql (/usr/lib/postgresql/*/bin/postgres)" : false;
const code = (n: number) => (e: Error & { code?: number }): boolean => e.code === n;
const granted = (p: Promise<unknown>): Promise<number[] | undefined> => p.then((g) => (g as { qos: number }[]).map((x) => x.qos), (e: { packet?: { granted: number[] } }) => e.packet?.granted);

// comqtt's schema, as its README gives it (docs/hooks.md has the same).
const SCHEMA = `
CREATE TABLE mqtt_user (
    id serial PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    allow smallint DEFAULT 1 NOT NULL,
    created timestamp with time zone DEFAULT NOW(),
    updated timestamp
);
CREATE TABLE mqtt_acl(
    id serial PRIMARY KEY,
    username TEXT NOT NULL,
    topic TEXT NOT NULL,
    access smallint DEFAULT 3 NOT NULL,
    created timestamp with time zone DEFAULT NOW(),
    updated timestamp
);
CREATE INDEX mqtt_acl_username_idx ON mqtt_acl(username);`;

test('shoal/hooks/postgres: comqtt\'s users and ACL tables, bcrypt and the other hash types, cached per shard, PostgreSQL down or silent means deny within the timeout', { skip }, async () => {
  const server = await startPostgres(bin!);
  const db = new pg.Client({ connectionString: server.url });
  const brokers: Awaited<ReturnType<typeof createBroker>>[] = [];
  const silent = createServer((s: Socket) => { s.on('error', () => {}); }); // accepts, never answers
  try {
    await db.connect();
    await db.query(SCHEMA);
    const users: [string, string, number][] = [
      ['alice', bcrypt.hashSync('pw', 10), 1], // comqtt's cost
      ['bob', encodeHash(hashPassword('secret')), 1], // Mosquitto's $7$
      ['carol', bcrypt.hashSync('pw', 4), 0], // allow = 0
      ['dave', bcrypt.hashSync('pw', 4).replace(/^\$2b\$/, '$2y$'), 1], // PHP's spelling
    ];
    for (const u of users) await db.query('INSERT INTO mqtt_user (username, password, allow) VALUES ($1, $2, $3)', u);
    const acl: [string, string, number][] = [
      ['alice', 'a/#', 3], ['alice', 'a/secret', 0], ['alice', 'feed/+/in', 1], ['alice', 'out/alice', 2], ['alice', 'cached/#', 3],
      ['$anonymous', 'public/#', 1], ['$anonymous', 'public/private', 0],
    ];
    for (const r of acl) await db.query('INSERT INTO mqtt_acl (username, topic, access) VALUES ($1, $2, $3)', r);

    const broker = await createBroker({ host: '127.0.0.1', port: 0, shards: 2, accept: 'main', persistence: 'memory', logLevel: 'silent',
      hooks: [{ module: 'shoal/hooks/postgres', options: { url: server.url, timeoutMs: 1500, cacheTtlMs: 600 } }] });
    brokers.push(broker);
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;

    await assert.rejects(connectClient(url, { version: 5, username: 'alice', password: 'wrong' }), code(0x86));
    await assert.rejects(connectClient(url, { version: 5, username: 'nobody', password: 'pw' }), code(0x86));
    await assert.rejects(connectClient(url, { version: 4, username: 'carol', password: 'pw' }), code(4)); // allow = 0
    await assert.rejects(connectClient(url, { version: 5, username: 'alice' }), code(0x86)); // a user name without password
    (await connect(url, { version: 5, username: 'bob', password: 'secret' })).end(true);
    (await connect(url, { version: 4, username: 'dave', password: 'pw' })).end(true);

    const alice = await connect(url, { version: 5, clientId: 'alice', username: 'alice', password: 'pw' });
    const got = new Collector(alice);
    // a/# is refused: the longer a/secret denies part of it; feed/# is wider than feed/+/in.
    assert.deepEqual(await granted(alice.subscribeAsync({ 'a/x': { qos: 1 }, 'a/#': { qos: 1 }, 'a/secret': { qos: 1 }, 'feed/x/in': { qos: 1 }, 'feed/#': { qos: 1 }, 'out/alice': { qos: 1 }, 'cached/t': { qos: 1 } })),
      [1, 0x87, 0x87, 1, 0x87, 0x87, 1]);
    await assert.rejects(alice.publishAsync('a/secret', 'x', { qos: 1 }), code(0x87)); // the longest match denies
    await assert.rejects(alice.publishAsync('feed/x/in', 'x', { qos: 1 }), code(0x87)); // read only
    await alice.publishAsync('out/alice', 'w', { qos: 1 }); // write only
    await alice.publishAsync('a/x', 'hello', { qos: 1 });
    await eventually(() => got.messages.length === 1, 3000, 'delivery of a/x');
    assert.equal(got.messages[0]!.topic, 'a/x');

    // An anonymous client gets the $anonymous rows.
    const anon = await connect(url, { version: 5, clientId: 'anon' });
    assert.deepEqual(await granted(anon.subscribeAsync({ 'public/news': { qos: 0 }, 'public/private': { qos: 0 }, 'a/x': { qos: 0 } })), [0, 0x87, 0x87]);

    // The cache: a row removed still holds until the TTL, then not.
    await alice.publishAsync('cached/t', '1', { qos: 1 });
    await db.query("DELETE FROM mqtt_acl WHERE topic = 'cached/#'");
    await alice.publishAsync('cached/t', '2', { qos: 1 });
    await sleep(700);
    await assert.rejects(alice.publishAsync('cached/t', '3', { qos: 1 }), code(0x87));
    alice.end(true); anon.end(true);

    // comqtt's unsalted types, named by number or name, from another table, keyed by client id.
    await db.query('CREATE TABLE hex_user (username TEXT NOT NULL UNIQUE, password TEXT NOT NULL, allow smallint DEFAULT 1 NOT NULL)');
    await db.query("INSERT INTO hex_user VALUES ('dev-1', $1, 1)", [createHmac('sha256', 'k3y').update('pw').digest('hex').toUpperCase()]);
    const hmac = await createBroker({ host: '127.0.0.1', port: 0, shards: 1, accept: 'main', persistence: 'memory', logLevel: 'silent',
      hooks: [{ module: 'shoal/hooks/postgres', options: { url: server.url, userTable: 'hex_user', authBy: 'clientId', passwordHash: 7, hashKey: 'k3y' } }] });
    brokers.push(hmac);
    await hmac.listen();
    const hmacUrl = `mqtt://127.0.0.1:${hmac.address()!.port}`;
    (await connect(hmacUrl, { version: 5, clientId: 'dev-1', username: 'anyone', password: 'pw' })).end(true);
    await assert.rejects(connectClient(hmacUrl, { version: 5, clientId: 'dev-1', username: 'anyone', password: 'px' }), code(0x86));
    await assert.rejects(connectClient(hmacUrl, { version: 5, clientId: 'dev-2', username: 'anyone', password: 'pw' }), code(0x86));
    await db.query("UPDATE hex_user SET password = $1", [createHash('md5').update('pw').digest('hex')]);
    await hmac.close();
    brokers.pop();
    const md5 = await createBroker({ host: '127.0.0.1', port: 0, shards: 1, accept: 'main', persistence: 'memory', logLevel: 'silent',
      hooks: [{ module: 'shoal/hooks/postgres', options: { url: server.url, userTable: 'hex_user', authBy: 'clientId', passwordHash: 'md5' } }] });
    brokers.push(md5);
    await md5.listen();
    (await connect(`mqtt://127.0.0.1:${md5.address()!.port}`, { version: 4, clientId: 'dev-1', username: 'x', password: 'pw' })).end(true);

    // A server that accepts and never answers: refused within the timeout, not hung.
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const mute = await createBroker({ host: '127.0.0.1', port: 0, shards: 1, accept: 'main', persistence: 'memory', logLevel: 'silent', httpPort: 0, httpHost: '127.0.0.1',
      hooks: [{ module: 'shoal/hooks/postgres', options: { url: `postgres://x@127.0.0.1:${(silent.address() as { port: number }).port}/x`, timeoutMs: 300 } }] });
    brokers.push(mute);
    await mute.listen();
    let t0 = Date.now();
    await assert.rejects(connectClient(`mqtt://127.0.0.1:${mute.address()!.port}`, { version: 5, username: 'alice', password: 'pw' }), code(0x86));
    assert.ok(Date.now() - t0 < 1500, `refused after ${Date.now() - t0} ms`);
    const metrics = await (await fetch(`${mute.listenUrls().find((u) => u.startsWith('http:'))}/metrics`)).text();
    assert.match(metrics, /^shoal_backend_timeouts_total\{shard="0",backend="postgres"\} 1$/m); // counted as a timeout, not an error
    assert.match(metrics, /^shoal_backend_down\{shard="0",backend="postgres"\} 1$/m);

    // PostgreSQL down: bob, out of the cache by now, is refused within the timeout.
    await db.end();
    await server.stop();
    t0 = Date.now();
    await assert.rejects(connectClient(url, { version: 5, username: 'bob', password: 'secret' }), code(0x86));
    assert.ok(Date.now() - t0 < 2500, `refused after ${Date.now() - t0} ms`);
  } finally {
    await db.end().catch(() => undefined);
    for (const b of brokers) await b.close();
    silent.close();
    await server.stop();
  }
});

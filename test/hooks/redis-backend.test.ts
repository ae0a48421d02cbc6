// shoal/hooks/redis against Debian's redis-server (started here on a free port, no files):
// users with the password file's hash formats, ACL rules per user and for anonymous clients,
// the per-shard cache with its TTL, and Redis down answered "deny" within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBroker } from '../../src/index.ts';
import { encodeHash, hashPassword } from '../../src/shared/auth/password-file.ts';
import { Collector, connect, connectClient, eventually, sleep } from '../helpers/clients.ts';
import { freePort } from '../helpers/broker.ts';
import { redisClient, redisMissing, startRedis } from '../helpers/redis-server.ts';

const skip = redisMissing;
const code = (n: number) => (e: Error & { code?: number }): boolean => e.code === n;

test('shoal/hooks/redis: users and ACL rules from Redis, cached per shard, Redis down means deny within the timeout', { skip }, async () => {
  const port = await freePort();
  const server = await startRedis(port);
  const redis = redisClient(port);
  let broker: Awaited<ReturnType<typeof createBroker>> | null = null;
  try {
    await redis.connect();
    await redis.hset('shoal:users', { alice: encodeHash(hashPassword('pw')), bob: encodeHash(hashPassword('secret', { algorithm: 'sha512' })) });
    await redis.hset('shoal:acl:alice', { 'ok/#': 'rw', 'feed/+/in': 'r' });
    await redis.hset('shoal:acl:$anonymous', { 'public/#': 'r' });
    broker = await createBroker({ host: '127.0.0.1', port: 0, shards: 2, accept: 'main', persistence: 'memory', logLevel: 'silent',
      hooks: [{ module: 'shoal/hooks/redis', options: { url: `redis://127.0.0.1:${port}/0`, timeoutMs: 300, cacheTtlMs: 400 } }] });
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;

    await assert.rejects(connectClient(url, { version: 5, username: 'alice', password: 'wrong' }), code(0x86));
    await assert.rejects(connectClient(url, { version: 5, username: 'nobody', password: 'pw' }), code(0x86));
    await assert.rejects(connectClient(url, { version: 4, username: 'nobody', password: 'pw' }), code(4));
    const alice = await connect(url, { version: 5, clientId: 'alice', username: 'alice', password: 'pw' });
    const got = new Collector(alice);
    const suback = await alice.subscribeAsync({ 'ok/#': { qos: 1 }, 'feed/x/in': { qos: 1 }, 'feed/#': { qos: 1 } }).then(() => null, (e: { packet?: { granted: number[] } }) => e.packet);
    assert.deepEqual(suback?.granted, [1, 1, 0x87]); // feed/# is wider than the rule feed/+/in
    await assert.rejects(alice.publishAsync('feed/x/in', 'x', { qos: 1 }), code(0x87)); // r only
    await alice.publishAsync('ok/1', 'hello', { qos: 1 });
    await eventually(() => got.messages.length === 1, 3000, 'delivery');

    // An anonymous client gets the $anonymous rules.
    const anon = await connect(url, { version: 5, clientId: 'anon' });
    const anonSub = await anon.subscribeAsync({ 'public/news': { qos: 0 }, 'ok/#': { qos: 0 } }).then(() => null, (e: { packet?: { granted: number[] } }) => e.packet);
    assert.deepEqual(anonSub?.granted, [0, 0x87]);

    // The cache: a rule removed in Redis still holds until the TTL, then not.
    await redis.hdel('shoal:acl:alice', 'ok/#');
    await alice.publishAsync('ok/1', 'cached', { qos: 1 });
    await sleep(500);
    await assert.rejects(alice.publishAsync('ok/1', 'expired', { qos: 1 }), code(0x87));

    // A $6$ (SHA-512) secret, as Mosquitto 1.6 wrote them.
    (await connect(url, { version: 5, username: 'bob', password: 'secret' })).end(true);

    // Redis down: the same CONNECT, no longer cached, is refused within the timeout.
    await server.stop('SIGKILL');
    await sleep(450); // bob's verdict out of the cache: this one needs Redis
    const t0 = Date.now();
    await assert.rejects(connectClient(url, { version: 5, username: 'bob', password: 'secret' }), code(0x86));
    assert.ok(Date.now() - t0 < 1500, `refused after ${Date.now() - t0} ms`);
    alice.end(true); anon.end(true);
  } finally {
    redis.disconnect();
    await broker?.close();
    await server.stop('SIGKILL');
  }
});

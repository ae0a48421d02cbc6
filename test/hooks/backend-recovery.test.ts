// A first-party backend that was down and answers again: each shard that logged the outage logs
// "answers again" once, and the down gauge in /metrics and $SYS/broker/backends/redis/state go
// back to up. Debian's redis-server, stopped and started again on the same port in the test; the
// broker runs from the CLI with a config file (json logs, admin HTTP, $SYS each second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHash, hashPassword } from '../../src/shared/auth/password-file.ts';
import { freePort, isMosquitto, startBroker } from '../helpers/broker.ts';
import { connect, connectClient, eventually, type MqttClient } from '../helpers/clients.ts';
import { redisMissing, startRedis, withRedis, type RedisServer } from '../helpers/redis-server.ts';

const skip = isMosquitto ? 'Shoal only' : redisMissing;

/** redis-server on `port` with alice's password, and $SYS readable for anonymous clients (no files: a restart starts empty). */
async function startSeeded(port: number): Promise<RedisServer> {
  const server = await startRedis(port);
  try {
    await withRedis(port, async (redis) => {
      await redis.hset('shoal:users', { alice: encodeHash(hashPassword('pw')) });
      await redis.hset('shoal:acl:$anonymous', { '$SYS/#': 'r' });
    });
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

function gauge(text: string, backend: string): number {
  let sum = 0;
  for (const m of text.matchAll(/^shoal_backend_down\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes(`backend="${backend}"`)) sum += Number(m[2]);
  return sum;
}

test('a backend that answers again: "answers again" once per shard that was down, its gauge and $SYS state back to up', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-recovery-'));
  const port = await freePort();
  let server = await startSeeded(port);
  const shards = 2;
  const held: MqttClient[] = [];
  try {
    const cfg = join(dir, 'shoal.yaml');
    writeFileSync(cfg, `hooks:\n  - module: shoal/hooks/redis\n    options: {url: "redis://127.0.0.1:${port}/0", timeoutMs: 500, cacheTtlMs: 0, onError: deny}\n`);
    const httpPort = await freePort();
    // 30 s to listen: the hooks load in every shard, and a loaded CI machine has taken over 10 s.
    const b = await startBroker({ shards, listenTimeoutMs: 30_000, extraArgs: ['--config', cfg, '--log-format', 'json', '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--sys-interval', '1'] });
    const lines = (what: string): number[] => b.stderr().split('\n').filter((l) => l.includes(what)).map((l) => (JSON.parse(l) as { shard: number }).shard);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const alice = (): Promise<void> => connectClient(b.url, { version: 5, username: 'alice', password: 'pw' }).then((c) => { c.client.end(true); });
    try {
      const sys = await connect(b.url, { version: 5, clientId: 'sys-reader' });
      held.push(sys);
      const state = new Map<string, string>();
      sys.on('message', (topic, payload) => state.set(topic, payload.toString()));
      await sys.subscribeAsync('$SYS/broker/backends/redis/state');
      // $SYS goes out each second; under load a few may come late. A failure says what it last saw.
      const sysState = (want: string): Promise<void> => eventually(() => state.get('$SYS/broker/backends/redis/state') === want, 10_000, `$SYS state "${want}"`)
        .catch((e: Error) => { throw new Error(`${e.message}; last seen "${state.get('$SYS/broker/backends/redis/state')}", outage lines from shards [${lines('redis unreachable or too slow')}]`); });

      await alice(); // up: allowed
      await server.stop();
      // Down: refused (onError deny) within the timeout, on both shards (clients held open so the
      // least-loaded placement spreads the next ones).
      for (let i = 0; i < 6; i++) {
        await assert.rejects(connectClient(b.url, { version: 5, username: 'alice', password: 'pw' }), (e: Error & { code?: number }) => e.code === 0x86);
        held.push(await connect(b.url, { version: 5, clientId: `hold-${i}` }));
      }
      const down = lines('redis unreachable or too slow');
      assert.ok(down.length >= 1 && down.length <= shards && new Set(down).size === down.length, `one outage line per shard: ${down}`);
      assert.equal(gauge(await metrics(), 'redis'), down.length);
      await sysState(`down on ${down.length} of ${shards} shards`);
      assert.deepEqual(lines('redis answers again'), [], 'not back yet');

      server = await startSeeded(port);
      // ioredis reconnects by itself; CONNECTs are let in again on every shard that was down.
      await eventually(async () => {
        const ok = await alice().then(() => true, () => false);
        if (ok) held.push(await connect(b.url, { version: 5, clientId: `hold-${held.length}` }));
        return ok && down.every((s) => lines('redis answers again').includes(s));
      }, 15000, 'alice allowed again on every shard that was down');
      for (let i = 0; i < 4; i++) await alice(); // more answers: no more lines
      const again = lines('redis answers again');
      assert.deepEqual([...again].sort(), [...down].sort(), 'once per shard that was down');
      assert.equal(gauge(await metrics(), 'redis'), 0);
      await sysState('up');
    } finally {
      for (const c of held) c.end(true);
      await b.stop();
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

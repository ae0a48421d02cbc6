// Debian's redis-server for a test: on a port of the test's choosing (so it can be stopped and
// started again there), no files (a restart starts empty), stopped in bounded time. The client
// that seeds it never reconnects: ioredis's default retry, with connect() polled while the
// server was still starting, left reconnect timers that outlived disconnect() and kept the test
// process alive, reconnecting every 2 s to the stopped server, long after the last test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { exited, killOnExit, stopChild } from './child-process.ts';
import { waitListening } from './ports.ts';

export const REDIS_BIN = '/usr/bin/redis-server';
export const redisMissing: string | false = spawnSync(REDIS_BIN, ['--version']).status === 0 ? false : 'needs Debian\'s redis-server';
const START_TIMEOUT_MS = 10_000;

export interface RedisServer { port: number; proc: ChildProcess; stop(signal?: NodeJS.Signals): Promise<void> }

/** An ioredis client that fails instead of retrying: once closed it stays closed, no timers left. */
export function redisClient(port: number): Redis {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => { /* a command's own rejection says what failed */ });
  return redis;
}

/** redis-server on `port`; resolves once it accepts connections. */
export async function startRedis(port: number): Promise<RedisServer> {
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  killOnExit(proc);
  const server: RedisServer = { port, proc, stop: async (signal) => { await stopChild(proc, signal ? { signal } : {}); } };
  try {
    await waitListening(port, START_TIMEOUT_MS, 'redis-server', () => exited(proc));
  } catch (e) {
    await server.stop('SIGKILL');
    throw e;
  }
  return server;
}

/** Runs `fn` with a connected client, then closes it (whatever `fn` did). */
export async function withRedis<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = redisClient(port);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

// /ready on a real broker: 503 with a reason while it starts, while a shard restarts and once
// shutdown begins; 200 in between. /health answers throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { IPublishPacket } from 'mqtt-packet';
import { stopChild } from '../helpers/child-process.ts';
import { connect, endAll, eventually, sleep, type MqttClient } from '../helpers/clients.ts';
import { request, scrape, startAdminBroker } from './helpers.ts';

const SHOAL = resolve(import.meta.dirname, '..', '..', 'bin', 'shoal.js');

interface ReadyBody { ready: boolean; reason: string; phase: string; shards_up: number; shards_total: number; listeners_bound: boolean }

/** Polls /ready until `stop` says so; every answer in order (status and body), connection errors left out. */
async function pollReady(admin: string, stop: () => boolean, limitMs: number): Promise<{ status: number; body: ReadyBody }[]> {
  const seen: { status: number; body: ReadyBody }[] = [];
  const deadline = Date.now() + limitMs;
  while (!stop() && Date.now() < deadline) {
    try {
      const a = await request(`${admin}/ready`, { timeoutMs: 2000 });
      seen.push({ status: a.status, body: a.json() as ReadyBody });
    } catch { /* refused once the process is gone */ }
    await sleep(2);
  }
  return seen;
}

/** Statuses in order with runs collapsed, e.g. [503, 200]. */
const runs = (seen: { status: number }[]): number[] => seen.map((s) => s.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);

test('/ready is 503 "starting" until every shard is up and the listeners are bound, then 200', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-ready-'));
  // Durable LMDB and 4 shards: each shard opens the store before it reports ready.
  const proc = spawn(process.execPath, [SHOAL, '--host', '127.0.0.1', '--port', '0', '--shards', '4', '--accept', 'main', '--persistence', 'durable', '--data-dir', dir, '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  try {
    let admin = '';
    await eventually(() => { admin = /"url":"(http:\/\/[^"]+)","msg":"admin HTTP listening"/.exec(stderr)?.[1] ?? ''; return admin !== ''; }, 15_000, `admin URL in the log:\n${stderr}`, 1);
    const health = request(`${admin}/health`);
    const seen: { status: number; body: ReadyBody }[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && seen.at(-1)?.status !== 200) {
      const a = await request(`${admin}/ready`);
      seen.push({ status: a.status, body: a.json() as ReadyBody });
      await sleep(2);
    }
    assert.equal((await health).status, 200, '/health during start');
    assert.deepEqual(runs(seen), [503, 200], `statuses while starting: ${JSON.stringify(seen.map((s) => s.body.reason))}`);
    const first = seen[0]!.body;
    assert.equal(first.ready, false);
    assert.equal(first.phase, 'starting');
    assert.match(first.reason, /^starting: /);
    assert.equal(first.shards_total, 4);
    assert.ok(first.shards_up < 4 || !first.listeners_bound);
    const last = seen.at(-1)!.body;
    assert.deepEqual({ ready: last.ready, reason: last.reason, phase: last.phase, shards_up: last.shards_up, listeners_bound: last.listeners_bound }, { ready: true, reason: 'ready', phase: 'running', shards_up: 4, listeners_bound: true });
    await eventually(() => /listening on mqtt:\/\//.test(stdout), 5000, 'start line');
  } finally {
    await stopChild(proc, { signal: 'SIGKILL' });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/ready is 503 "shutting down" from SIGTERM until the process exits', async () => {
  const b = await startAdminBroker({ shards: 4, persistence: 'durable' });
  const clients: MqttClient[] = [];
  try {
    // Persistent v5 sessions: shutdown sends each a DISCONNECT and saves it, which takes a moment.
    for (let i = 0; i < 40; i++) clients.push(await connect(b.url, { version: 5, clean: false, properties: { sessionExpiryInterval: 600 } }));
    assert.equal((await request(`${b.admin}/ready`)).status, 200);
    let exited = false;
    b.proc.once('exit', () => { exited = true; });
    const polling = pollReady(b.admin, () => exited, 15_000);
    await sleep(20);
    b.proc.kill('SIGTERM');
    const seen = await polling;
    const afterFirst503 = seen.slice(seen.findIndex((s) => s.status === 503));
    assert.ok(seen.some((s) => s.status === 503), `no 503 between SIGTERM and exit (answers: ${JSON.stringify(runs(seen))})`);
    assert.ok(afterFirst503.every((s) => s.status === 503 && s.body.reason === 'shutting down' && s.body.phase === 'stopping'), `after the first 503: ${JSON.stringify(afterFirst503.map((s) => [s.status, s.body.reason]))}`);
    assert.deepEqual(runs(seen), [200, 503].slice(seen[0]!.status === 200 ? 0 : 1));
    assert.equal(await b.stop(), 0);
  } finally {
    for (const c of clients) c.end(true);
    await b.stop().catch(() => {});
  }
});

test('a crashed shard: /ready 503 and shoal_shard_up 0 while it restarts, then 200 again', async () => {
  const b = await startAdminBroker({ shards: 2, testHooks: true });
  const clients: MqttClient[] = [];
  try {
    const crasher = await connect(b.url);
    clients.push(crasher);
    assert.equal((await request(`${b.admin}/ready`)).status, 200);
    // Each round reads /ready and /metrics, until the restarted shard is back in both.
    const seen: { status: number; body: ReadyBody; up: number }[] = [];
    crasher.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 } as Partial<IPublishPacket>);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const a = await request(`${b.admin}/ready`);
      const up = (await scrape(b.admin)).sum('shoal_shard_up');
      seen.push({ status: a.status, body: a.json() as ReadyBody, up });
      if (seen.some((s) => s.status === 503) && a.status === 200 && up === 2) break;
      await sleep(2);
    }
    const down = seen.filter((s) => s.status === 503);
    assert.ok(down.length > 0, `no 503 while the shard restarted (${seen.length} answers)`);
    for (const s of down) {
      assert.equal(s.body.phase, 'running');
      assert.equal(s.body.shards_up, 1);
      assert.equal(s.body.reason, '1 of 2 shards up (a shard is restarting)');
    }
    assert.ok(seen.some((s) => s.up === 1), 'shoal_shard_up never showed the shard down');
    assert.equal(seen.at(-1)!.status, 200);
  } finally {
    await endAll(clients);
    await b.stop();
  }
});

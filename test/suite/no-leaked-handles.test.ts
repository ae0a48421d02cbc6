// The suite's own hygiene: a test file's process must exit once its tests are done, or
// `node --test` waits for it for ever (a CI run once waited 82 minutes on one file). Every
// test-side stop of a child goes through stopChild, which must end even a child that ignores
// SIGTERM within its bound; and a process that used the helpers must exit by itself after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { exited, stopChild, waitExit } from '../helpers/child-process.ts';
import { eventually } from '../helpers/clients.ts';
import { redisMissing } from '../helpers/redis-server.ts';

const HELPERS = join(import.meta.dirname, '..', 'helpers');
const helper = (file: string): string => pathToFileURL(join(HELPERS, file)).href;
/** How long a process with nothing left to do may take to exit on this (loaded) machine. */
const EXIT_BOUND_MS = 30_000;

/** A node child running `code`, resolved once it printed "ready" (its handlers are installed by then). */
async function nodeChild(code: string, args: string[] = []): Promise<{ proc: ChildProcess; line: string; out: () => string }> {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const [line] = await Promise.race([
    once(proc.stdout!, 'data') as Promise<[string]>,
    once(proc, 'exit').then(() => { throw new Error(`child exited before "ready": ${out}`); }),
  ]);
  assert.match(line, /ready/, out);
  return { proc, line, out: () => out };
}

/** No such process, or a zombie (dead; reaped by whoever adopted it, which may take a while in a container). */
function gone(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === 'ESRCH'; }
  try { return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}

/** Runs `code` in a fresh node process and resolves how it ended: it must exit on its own within EXIT_BOUND_MS. */
async function exitsByItself(code: string): Promise<{ code: number | null; ms: number; out: string }> {
  const t0 = Date.now();
  const { proc, out } = await nodeChild(`console.log('ready');\n${code}`);
  const byItself = await waitExit(proc, EXIT_BOUND_MS);
  const ms = Date.now() - t0;
  if (!byItself) await stopChild(proc, { signal: 'SIGKILL' });
  assert.ok(byItself, `the process was still alive ${EXIT_BOUND_MS} ms later (something kept it alive):\n${out()}`);
  return { code: proc.exitCode, ms, out: out() };
}

test('stopChild: a child that ignores SIGTERM is SIGKILLed once the grace period is over, within its bound', async () => {
  const { proc } = await nodeChild("process.on('SIGTERM', () => {}); setInterval(() => {}, 1e3); console.log('ready');");
  try {
    const r = await stopChild(proc, { graceMs: 1000 });
    assert.equal(r.how, 'killed');
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(r.ms >= 1000, `killed before the grace period was over (${r.ms} ms)`);
    assert.ok(r.ms < 1000 + 5000, `took ${r.ms} ms, more than grace + the SIGKILL bound`);
    assert.ok(exited(proc) && gone(proc.pid!), 'the process is gone');
  } finally {
    if (!exited(proc)) proc.kill('SIGKILL');
  }
});

test('stopChild: a child that acts on SIGTERM exits by it, without SIGKILL; a stopped one is left alone', async () => {
  const { proc } = await nodeChild("process.on('SIGTERM', () => process.exit(3)); setInterval(() => {}, 1e3); console.log('ready');");
  const r = await stopChild(proc, { graceMs: 10_000 });
  assert.deepEqual([r.how, r.code, r.signal], ['exited', 3, null]);
  assert.ok(r.ms < 10_000, `${r.ms} ms`);
  const again = await stopChild(proc);
  assert.deepEqual([again.how, again.code, again.ms < 50], ['exited', 3, true]);
});

test('stopChild: SIGINT to another pid (the postmaster under runuser), SIGKILL to both when it is ignored', async () => {
  // The child is a shell that does not pass signals on; its own child is the one to signal.
  const { proc, line } = await nodeChild(`import { spawn } from 'node:child_process';
const inner = spawn(process.execPath, ['-e', "process.on('SIGINT', () => {}); setInterval(() => {}, 1e3)"], { stdio: 'ignore' });
process.on('SIGTERM', () => {}); process.on('SIGINT', () => {});
console.log('ready ' + inner.pid); setInterval(() => {}, 1e3);`);
  const pid = Number(/ready (\d+)/.exec(line)![1]);
  try {
    const r = await stopChild(proc, { signal: 'SIGINT', graceMs: 500, signalPid: pid });
    assert.equal(r.how, 'killed');
    assert.ok(r.ms < 500 + 5000, `${r.ms} ms`);
    await eventually(() => gone(pid), 5000, 'the signalled pid got SIGKILL too');
  } finally {
    if (!exited(proc)) proc.kill('SIGKILL');
  }
});

test('a process that stopped a SIGTERM-ignoring child with stopChild exits by itself (no timer, listener or pipe left)', async () => {
  const r = await exitsByItself(`import { spawn } from 'node:child_process';
import { stopChild } from '${helper('child-process.ts')}';
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1e3); console.log('up')"], { stdio: ['ignore', 'pipe', 'pipe'] });
await new Promise((r) => child.stdout.once('data', r));
const s = await stopChild(child, { graceMs: 500 });
console.log('stopped', s.how);`);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /stopped killed/);
});

test('redis-server helper: a process that started, seeded and stopped redis-server twice on one port exits by itself', { skip: redisMissing }, async () => {
  // What backend-recovery does: its seeding client used to reconnect after disconnect() and, once
  // the server was stopped, every 2 s for ever, so the file's process never exited.
  const r = await exitsByItself(`import { freePort } from '${helper('ports.ts')}';
import { startRedis, withRedis } from '${helper('redis-server.ts')}';
const port = await freePort();
for (let i = 0; i < 2; i++) {
  const server = await startRedis(port);
  await withRedis(port, (redis) => redis.hset('k', { a: String(i) }));
  await server.stop();
}
console.log('done');`);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /done/);
});

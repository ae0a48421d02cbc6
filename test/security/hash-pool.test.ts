// Password checks on the piscina pool: 1,000 $7$ verifications leave the calling thread's event
// loop free (its delay measured with perf_hooks.monitorEventLoopDelay), where the same checks
// inline block it; a full queue is refused at once with SHOAL_HASH_POOL_BUSY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ErrorCode } from '../../src/shared/errors.ts';
import { HashPool } from '../../src/shared/auth/hash-pool.ts';
import { encodeHash, hashPassword, verifySecret } from '../../src/shared/auth/password-file.ts';

const N = 1000;
const users = Array.from({ length: 20 }, (_, i) => ({ secret: encodeHash(hashPassword(`pw-${i}`)), password: `pw-${i}` }));
// every tenth check carries a wrong password, so a pool that answered `true` blindly fails
const checks = Array.from({ length: N }, (_, i) => {
  const u = users[i % users.length]!;
  return { secret: u.secret, password: Buffer.from(i % 10 === 0 ? 'wrong' : u.password), expect: i % 10 !== 0 };
});

interface Delay { maxMs: number; p99Ms: number; elu: number; wallMs: number }

async function measure(work: () => Promise<void>): Promise<Delay> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  h.disable();
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, elu, wallMs };
}

test('1,000 $7$ verifications on the pool keep the event loop responsive; inline they block it (figures in the diagnostics)', async (t) => {
  const pool = new HashPool({ threads: 1, maxQueue: N });
  try {
    await pool.verify(users[0]!.secret, Buffer.from('warm-up')); // thread start-up is not the figure
    let wrong = 0;
    const pooled = await measure(async () => {
      const results = await Promise.all(checks.map((c) => pool.verify(c.secret, c.password)));
      results.forEach((r, i) => { if (r !== checks[i]!.expect) wrong++; });
    });
    assert.equal(wrong, 0, 'every answer right');
    // inline, the same burst: all 1,000 checked in the turn they arrived in
    const inline = await measure(async () => {
      await new Promise<void>((res) => setTimeout(res, 5));
      for (const c of checks) assert.equal(verifySecret(c.secret, c.password), c.expect);
      await new Promise<void>((res) => setTimeout(res, 5));
    });
    const fmt = (d: Delay) => `event-loop delay max ${d.maxMs.toFixed(1)} ms, p99 ${d.p99Ms.toFixed(1)} ms, utilisation ${(d.elu * 100).toFixed(0)}%, ${d.wallMs.toFixed(0)} ms for ${N}`;
    t.diagnostic(`pool (1 thread): ${fmt(pooled)}`);
    t.diagnostic(`inline:          ${fmt(inline)}`);
    assert.ok(pooled.elu < inline.elu, 'the pool leaves the calling thread less busy');
    assert.ok(pooled.p99Ms < inline.p99Ms, 'and its event loop less delayed');
    // a generous bound for a shared 2-core machine; quiet runs show a few ms
    assert.ok(pooled.p99Ms < 30, `pool p99 event-loop delay ${pooled.p99Ms} ms`);
  } finally { await pool.close(); }
});

test('beyond maxQueue outstanding checks, verify() is refused at once with SHOAL_HASH_POOL_BUSY; queued ones still complete', async () => {
  const pool = new HashPool({ threads: 1, maxQueue: 8 });
  try {
    const heavy = encodeHash(hashPassword('x', { iterations: 20_000 }));
    const outcomes = await Promise.all(Array.from({ length: 40 }, async () => {
      const t0 = performance.now();
      try { return { ok: await pool.verify(heavy, Buffer.from('x')), ms: performance.now() - t0 }; } catch (e) {
        return { code: (e as { code?: string }).code, ms: performance.now() - t0 };
      }
    }));
    const busy = outcomes.filter((o) => 'code' in o);
    const done = outcomes.filter((o) => 'ok' in o);
    assert.ok(busy.length === 40 - 8, `refused: ${busy.length}`);
    assert.ok(busy.every((o) => o.code === ErrorCode.HASH_POOL_BUSY));
    assert.ok(done.length === 8 && done.every((o) => o.ok === true), `completed: ${done.length}`);
    const slowestRefusal = Math.max(...busy.map((o) => o.ms));
    const fastestCheck = Math.min(...done.map((o) => o.ms));
    assert.ok(slowestRefusal < fastestCheck, `refusals (${slowestRefusal.toFixed(1)} ms) do not wait for a thread (${fastestCheck.toFixed(1)} ms)`);
  } finally { await pool.close(); }
  await assert.rejects(pool.verify('x', Buffer.from('x')), (e: { code?: string }) => e.code === ErrorCode.HASH_POOL_BUSY);
});

test('checkLogin: right password, wrong one, unknown user (checked against the decoy on the pool), no password', async () => {
  const { checkLogin } = await import('../../src/shared/auth/login.ts');
  const { parsePasswordFile } = await import('../../src/shared/auth/password-file.ts');
  const file = parsePasswordFile(`alice:${users[0]!.secret}\nbob:${users[1]!.secret}\n`);
  const pool = new HashPool({ threads: 1 });
  try {
    assert.equal(await checkLogin(file, pool, 'alice', Buffer.from('pw-0')), true);
    assert.equal(await checkLogin(file, pool, 'alice', Buffer.from('pw-1')), false);
    assert.equal(await checkLogin(file, pool, 'bob', Buffer.from('pw-1')), true);
    assert.equal(await checkLogin(file, pool, 'mallory', Buffer.from('decoy')), false, 'not even the decoy\'s own password');
    assert.equal(await checkLogin(file, pool, 'alice', undefined), false);
  } finally { await pool.close(); }
});

test('passwords that are views into one shared buffer (as the shard\'s read slab) travel packed: right answers, the shared buffer left whole', async () => {
  // 200 checks: more than 2 tasks × 32 per thread, so some wait in the pool object for a task's answer
  const pool = new HashPool({ threads: 1, maxQueue: 1000, batch: 32, inFlightPerThread: 2 });
  try {
    const slab = Buffer.alloc(64 * 1024, 0x2a);
    let at = 17;
    const plan = Array.from({ length: 200 }, (_, i) => {
      const u = users[i % users.length]!;
      const text = i % 7 === 0 ? `${u.password}x` : i % 11 === 0 ? '' : u.password;
      const n = slab.write(text, at);
      const view = slab.subarray(at, at + n);
      at += n + 3;
      return { secret: u.secret, view, expect: text === u.password };
    });
    const got = await Promise.all(plan.map((c) => pool.verify(c.secret, c.view)));
    assert.deepEqual(got, plan.map((c) => c.expect));
    assert.equal(slab.buffer.byteLength, 64 * 1024, 'the shared buffer is not moved away (detached)');
    assert.equal(pool.queued, 0);
  } finally { await pool.close(); }
});

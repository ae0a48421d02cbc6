// The end-to-end figure for the hashing pool: 1,000 CONNECTs with passwords arriving at
// once must not delay the PUBLISH traffic of other clients on the same shard by more than a few
// ms. A publisher/subscriber pair sends a message every 2 ms; its publish→deliver p99 is taken
// over the second before and during the burst, with the pool (--hash-threads 1), inline
// (--hash-threads 0, the stall the pool avoids), and the same burst without passwords (what
// 1,000 connections cost the shard anyway). The burst's clients are a separate process at nice
// 10 and stay connected until it is over (bench/connect-burst/measure.ts, which
// `node bench/connect-burst/index.ts` also runs against Debian's Mosquitto, with profiles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { measureBurst, type BurstResult } from '../../bench/connect-burst/measure.ts';

const skip = isMosquitto ? 'Shoal only' : spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status !== 0 ? 'mosquitto_passwd not installed' : false;
const BURST = 1000;
const PAIR = { username: 'pair', password: 'pair-pw' };
const BURST_USER = { username: 'burst', password: 'burst-pw' };

async function measure(dir: string, hashThreads: number, withPassword = true): Promise<BurstResult> {
  const b = await startBroker({ shards: 1, extraArgs: ['--password-file', join(dir, 'passwd'), '--hash-threads', String(hashThreads), '--allow-anonymous', '--log-level', 'warn', '--connect-timeout', '60000'] });
  try {
    const r = await measureBurst({ url: b.url, port: b.port, burst: BURST, pairLogin: PAIR, login: withPassword ? BURST_USER : undefined });
    assert.ok(r.samples > 10, `the pair kept flowing during the burst (${r.samples} messages)`);
    return r;
  } finally {
    assert.equal(await b.stop(), 0);
  }
}

test('1,000 CONNECTs with passwords: other clients\' PUBLISH p99 on the shard, pool vs inline vs no passwords', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-burst-'));
  try {
    for (const [i, u] of [PAIR, BURST_USER].entries()) {
      const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', join(dir, 'passwd'), u.username, u.password], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const pool = await measure(dir, 1);
    const inline = await measure(dir, 0);
    const none = await measure(dir, 1, false);
    const line = (n: string, m: BurstResult): string => `${n}: p99 ${m.before.toFixed(1)} ms before, ${m.during.toFixed(1)} ms during the burst (max ${m.max.toFixed(1)}; ${m.accepted}/${BURST} accepted in ${m.burstMs} ms)`;
    t.diagnostic(line('pool (--hash-threads 1)', pool));
    t.diagnostic(line('inline (--hash-threads 0)', inline));
    t.diagnostic(line('no passwords (the cost of 1,000 connections alone)', none));
    // Asserted: every CONNECT of each burst is answered and accepted (the pool's queue bound is
    // 1024), and the pair keeps flowing during it (measure()). The latencies are reported, not
    // asserted: on the shared 2-core machine the pair's p99 during a burst follows the load
    // (the shard preempted, scavenges slowed by other threads): medians of 4 ms at load 13-14
    // and 37-51 ms at load 20-25 with the descriptor table reserved, single runs up to 233 ms
    // (BENCHMARKS.md, "CONNECT burst: the descriptor table"). What made the burst's worst stalls, the table's
    // doublings, is asserted where it can be without timing: test/regress/connect-burst-fd-table-doubling.test.ts.
    for (const m of [pool, inline, none]) assert.equal(m.accepted, BURST, 'every CONNECT of the burst accepted');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// The end-to-end figure for the hashing pool: 1,000 CONNECTs with passwords arriving at
// once must not delay the PUBLISH traffic of other clients on the same shard by more than a few
// ms. A publisher/subscriber pair sends a message every 2 ms; its publish→deliver p99 is taken
// before and during the burst (the burst runs in a worker thread of the test, so its sockets
// do not stall the pair's event loop), with the pool (--hash-threads 1) and inline
// (--hash-threads 0, the stall the pool avoids), and against the same burst without passwords
// (what 1,000 connections cost the shard anyway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { connect, endAll, sleep, subscribe } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only' : spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status !== 0 ? 'mosquitto_passwd not installed' : false;
const BURST = 1000;

// Plain JS (an eval worker): open BURST sockets at once, send each the CONNECT, count CONNACKs.
const BURST_WORKER = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
const { port, packet, count } = workerData;
let done = 0, ok = 0;
const t0 = Date.now();
for (let i = 0; i < count; i++) {
  const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from(packet)));
  let buf = Buffer.alloc(0);
  const finish = (accepted) => { if (s.finished) return; s.finished = true; done++; if (accepted) ok++; s.destroy(); if (done === count) parentPort.postMessage({ ok, ms: Date.now() - t0 }); };
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 4) finish(buf[0] === 0x20 && buf[3] === 0); });
  s.on('error', () => finish(false));
  s.on('close', () => finish(false));
}
`;

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? NaN;
}

async function measure(dir: string, hashThreads: number, withPassword = true): Promise<{ before: number; during: number; accepted: number; burstMs: number }> {
  const b = await startBroker({ shards: 1, extraArgs: ['--password-file', join(dir, 'passwd'), '--hash-threads', String(hashThreads), '--allow-anonymous', '--log-level', 'warn', '--connect-timeout', '60000'] });
  const pub = await connect(b.url, { username: 'pair', password: 'pair-pw' });
  const sub = await connect(b.url, { username: 'pair', password: 'pair-pw' });
  try {
    await subscribe(sub, 'lat/x');
    const lat: { at: number; ms: number }[] = [];
    sub.on('message', (_t, payload) => { const now = performance.now(); lat.push({ at: now, ms: now - payload.readDoubleBE(0) }); });
    let running = true;
    const pump = setInterval(() => { if (running) { const p = Buffer.alloc(8); p.writeDoubleBE(performance.now()); pub.publish('lat/x', p, { qos: 0 }); } }, 2);
    await sleep(1500);
    const burstStart = performance.now();
    const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 60, ...(withPassword ? { username: 'burst', password: Buffer.from('burst-pw') } : {}) } as mqttPacket.IConnectPacket);
    const w = new Worker(BURST_WORKER, { eval: true, workerData: { port: b.port, packet, count: BURST } });
    const result = await new Promise<{ ok: number; ms: number }>((res, rej) => { w.once('message', res); w.once('error', rej); });
    const burstEnd = performance.now();
    await w.terminate();
    await sleep(300);
    running = false;
    clearInterval(pump);
    const before = lat.filter((l) => l.at < burstStart && l.at > burstStart - 1000).map((l) => l.ms);
    const during = lat.filter((l) => l.at >= burstStart && l.at <= burstEnd + 50).map((l) => l.ms);
    assert.ok(during.length > 10, `the pair kept flowing during the burst (${during.length} messages)`);
    return { before: p99(before), during: p99(during), accepted: result.ok, burstMs: result.ms };
  } finally {
    await endAll([pub, sub]);
    assert.equal(await b.stop(), 0);
  }
}

test('1,000 CONNECTs with passwords: other clients\' PUBLISH p99 on the shard, pool vs inline vs no passwords', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-burst-'));
  try {
    for (const [i, [u, p]] of [['pair', 'pair-pw'], ['burst', 'burst-pw']].entries()) {
      const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', join(dir, 'passwd'), u!, p!], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const pool = await measure(dir, 1);
    const inline = await measure(dir, 0);
    const none = await measure(dir, 1, false);
    const line = (n: string, m: typeof pool): string => `${n}: p99 ${m.before.toFixed(1)} ms before, ${m.during.toFixed(1)} ms during the burst (${m.accepted}/${BURST} accepted in ${m.burstMs} ms)`;
    t.diagnostic(line('pool (--hash-threads 1)', pool));
    t.diagnostic(line('inline (--hash-threads 0)', inline));
    t.diagnostic(line('no passwords (the cost of 1,000 connections alone)', none));
    // Asserted: every CONNECT of each burst is answered and accepted (the pool's queue bound is
    // 1024), and the pair keeps flowing during it (measure()). The latencies are reported, not
    // asserted: with the shard's burst budget (connect-budget.ts) its own work holds the loop
    // ~12 ms at most, but on the shared 2-core machine scavenges and scheduling still cost the
    // pair 14-260 ms of p99 during a burst, with the machine's load (docs/security.md has the runs).
    for (const m of [pool, inline, none]) assert.equal(m.accepted, BURST, 'every CONNECT of the burst accepted');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// Regression (issue #13): in a burst of 1,000 CONNECTs every thread of the broker slept 10-55 ms
// at a time, with no CPU and no run-queue wait: the kernel doubled the process's descriptor
// table (256 -> 512 -> 1024 -> 2048) as the sockets came, and in a multi-threaded process each
// doubling waits for an RCU grace period while the shard's accept4 and main's openat wait for it
// (src/main/fd-table.ts). Those stalls were other clients' worst delays in the burst. The table
// is now grown at start (--fd-reserve, 4096 by default), so a burst within it never doubles it:
// asserted on /proc/PID/status FDSize (the table's size) before and after 1,500 connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { buildConnect } from '../helpers/raw.ts';

const skip = isMosquitto ? 'Shoal only' : process.platform !== 'linux' ? 'Linux descriptor tables' : false;
const BURST = 1500;

function fdTableSize(pid: number): number {
  return Number(/^FDSize:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** BURST sockets at once, each with a CONNECT; resolves with how many got a CONNACK 0 (they stay open). */
async function burst(port: number, sockets: net.Socket[]): Promise<number> {
  const packet = buildConnect({ clientId: '', version: 4 });
  let ok = 0;
  await Promise.all(Array.from({ length: BURST }, () => new Promise<void>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(packet));
    sockets.push(s);
    s.once('data', (d) => { if (d[0] === 0x20 && d[3] === 0) ok++; resolve(); });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  })));
  return ok;
}

test('CONNECT burst: the descriptor table does not double while 1,500 clients connect', { skip, timeout: 120_000 }, async () => {
  const b = await startBroker({ shards: 1, extraArgs: ['--connect-timeout', '60000'] });
  const sockets: net.Socket[] = [];
  try {
    const before = fdTableSize(b.pid);
    assert.ok(before >= 4096, `the table is reserved at start (FDSize ${before})`);
    assert.equal(await burst(b.port, sockets), BURST, 'every CONNECT answered');
    assert.equal(fdTableSize(b.pid), before, 'no doubling during the burst');
  } finally {
    for (const s of sockets) s.destroy();
    assert.equal(await b.stop(), 0);
  }
});

test('--fd-reserve 0: the table is grown on demand (what the burst paid before)', { skip, timeout: 120_000 }, async () => {
  const b = await startBroker({ shards: 1, extraArgs: ['--fd-reserve', '0', '--connect-timeout', '60000'] });
  const sockets: net.Socket[] = [];
  try {
    const before = fdTableSize(b.pid);
    assert.ok(before < 2048, `not reserved (FDSize ${before})`);
    assert.equal(await burst(b.port, sockets), BURST, 'every CONNECT answered');
    assert.ok(fdTableSize(b.pid) >= 2048, 'the burst doubled it');
  } finally {
    for (const s of sockets) s.destroy();
    assert.equal(await b.stop(), 0);
  }
});

// The remote side's keepalive and reconnect timing: a remote that stops answering PINGREQ is
// left after one keepalive period without an answer, and reconnected to; backoff doubles up to
// its cap with jitter, or is constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { backoffMs } from '../../src/worker/bridge/remote.ts';
import { readBridges } from '../../src/shared/config/bridges.ts';
import { eventually } from '../helpers/clients.ts';
import { startShoalWith, tempDir } from './helpers.ts';

test('bridge keepalive: a remote that answers CONNECT but never PINGREQ is dropped and reconnected', { timeout: 60_000 }, async () => {
  const conns: { pings: number; closed: boolean; at: number }[] = [];
  const server = net.createServer((s) => {
    const c = { pings: 0, closed: false, at: Date.now() };
    conns.push(c);
    let first = true;
    s.on('data', (b: Buffer) => {
      if (first && b[0] === 0x10) { first = false; s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); return; } // CONNACK, 3.1.1
      if (b[0] === 0xc0) c.pings++; // PINGREQ: never answered
    });
    s.on('close', () => { c.closed = true; });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const dir = tempDir('shoal-bridge-ka-');
  const shoal = await startShoalWith(dir, `
bridges:
  - {name: k, address: "127.0.0.1:${port}", protocol-version: "3.1.1", try-private: false, keepalive: 5, restart-timeout: 0.2, topics: [a/# out 0]}
`);
  try {
    await eventually(() => conns.length >= 2, 30_000, 'a second connection after the keepalive ran out');
    const [first, second] = conns;
    assert.ok(first!.pings >= 1, 'it pinged');
    assert.ok(first!.closed, 'the silent connection was closed by the bridge');
    const waited = second!.at - first!.at;
    assert.ok(waited >= 9000 && waited < 20_000, `dropped after two keepalive periods without an answer (${waited} ms)`);
  } finally {
    await shoal.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bridge backoff: doubles from base up to cap with 50-100 % jitter; one number is constant', () => {
  const [b] = readBridges([{ name: 'x', address: 'h:1', 'restart-timeout': '1 8', topics: ['a'] }], () => 'x');
  for (const [n, full] of [[1, 1000], [2, 2000], [3, 4000], [4, 8000], [9, 8000], [60, 8000]] as const) {
    for (let i = 0; i < 50; i++) {
      const d = backoffMs(b!, n);
      assert.ok(d >= full / 2 && d <= full, `failure ${n}: ${d} ms within [${full / 2}, ${full}]`);
    }
  }
  const [c] = readBridges([{ name: 'x', address: 'h:1', 'restart-timeout': 5, topics: ['a'] }], () => 'x');
  assert.deepEqual([1, 2, 10].map((n) => backoffMs(c!, n)), [5000, 5000, 5000]);
});

// Outbox (src/worker/outbox.ts): a connection's output of one turn goes into pooled slabs and out
// in one write. A slab is reused only when the socket took every byte synchronously; while the
// socket is congested its slabs stay with it and must never be overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Outbox, SLAB_SIZE, pooledSlabs } from '../../src/worker/outbox.ts';

async function pair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const accepted = once(srv, 'connection');
  const a = net.connect({ port, host: '127.0.0.1' });
  await once(a, 'connect');
  const [b] = (await accepted) as [net.Socket];
  return { a, b, close: () => { a.destroy(); b.destroy(); srv.close(); } };
}

function packet(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

test('a turn that the socket takes at once: one write, the slab goes back to the pool and is reused', async () => {
  const { a, b, close } = await pair();
  try {
    const got: Buffer[] = [];
    b.on('data', (d: Buffer) => got.push(d));
    const out = new Outbox();
    const before = pooledSlabs();
    out.append(packet(1, 100));
    out.appendPatched(packet(2, 50), 0, 50, 0x31);
    assert.equal(out.bytes, 150);
    assert.equal(out.packets, 2);
    assert.equal(pooledSlabs(), Math.max(0, before - 1), 'the turn holds one slab');
    assert.equal(out.writeTo(a, true), true);
    assert.equal(a.writableLength, 0);
    assert.equal(pooledSlabs(), Math.max(1, before), 'slab returned');
    assert.equal(out.bytes, 0);
    await new Promise((r) => setTimeout(r, 50));
    const all = Buffer.concat(got);
    const p2 = packet(2, 50);
    p2[0] = 0x31;
    assert.ok(all.equals(Buffer.concat([packet(1, 100), p2])));
  } finally { close(); }
});

test('a congested socket keeps its slabs: later turns never overwrite bytes the socket still holds', async () => {
  const { a, b, close } = await pair();
  try {
    b.pause(); // the peer stops reading: the kernel buffers fill, then Node buffers the writes
    const out = new Outbox();
    const sent: Buffer[] = [];
    let congestedTurns = 0;
    let n = 0;
    // 40 turns of ~200 KiB (several slabs each, plus one packet large enough to go as is).
    for (let turn = 0; turn < 40; turn++) {
      for (let k = 0; k < 200; k++) {
        const p = packet(n++, k === 100 ? SLAB_SIZE : 1000);
        sent.push(p);
        if (k % 2) out.append(p);
        else out.appendPatched(p, 0, p.length, p[0]!);
      }
      const pooled = pooledSlabs();
      out.writeTo(a, true);
      if (a.writableLength > 0) {
        congestedTurns++;
        assert.ok(pooledSlabs() <= pooled, 'no slab returned while the socket holds bytes');
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(congestedTurns > 10, `the socket was congested (${congestedTurns} turns)`);
    const want = Buffer.concat(sent);
    const got: Buffer[] = [];
    let len = 0;
    b.on('data', (d: Buffer) => { got.push(d); len += d.length; });
    b.resume();
    const t0 = Date.now();
    while (len < want.length && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(len, want.length);
    assert.ok(Buffer.concat(got).equals(want), 'every byte as appended, in order');
  } finally { close(); }
});

test('clear drops the turn and returns its slabs', () => {
  const out = new Outbox();
  out.append(packet(1, 30000));
  out.append(packet(2, 30000));
  out.append(packet(3, 10000)); // spills into a second slab
  const pooled = pooledSlabs();
  out.clear();
  assert.equal(out.bytes, 0);
  assert.equal(out.packets, 0);
  assert.equal(pooledSlabs(), pooled + 2);
});

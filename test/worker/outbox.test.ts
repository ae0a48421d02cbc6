// Outbox (src/worker/net/outbox.ts): a connection's output of one turn goes into pooled slabs and out
// in one write. A slab is reused only when the socket took every byte synchronously; while the
// socket is congested its slabs stay with it and must never be overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Outbox, SLAB_SIZE, pooledSlabs, releaseSlab } from '../../src/worker/net/outbox.ts';
import { handleWrites, writableHandle, type AsyncWriteOwner } from '../../src/worker/net/handle-write.ts';
import { encodePublish, encodePublishAt, packetIdOffset, packetLength, publishRemaining, withPacketId } from '../../src/worker/protocol/publish-codec.ts';

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

/** The stopped reader `b` resumes and must get exactly `want`, in order (waiting also for `done`). */
async function readsAll(b: net.Socket, want: Buffer, done: () => boolean): Promise<void> {
  const got: Buffer[] = [];
  let len = 0;
  b.on('data', (d: Buffer) => { got.push(d); len += d.length; });
  b.resume();
  const t0 = Date.now();
  while ((len < want.length || !done()) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(len, want.length);
  assert.ok(Buffer.concat(got).equals(want), 'every byte as appended, in order');
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
    await readsAll(b, Buffer.concat(sent), () => true);
  } finally { close(); }
});

test('handle writes: a turn the kernel takes at once goes out in one write past the stream, its slab back in the pool', async (t) => {
  if (!handleWrites) { t.skip('no stream_wrap binding in this Node: the stream writes'); return; }
  const { a, b, close } = await pair();
  try {
    const got: Buffer[] = [];
    b.on('data', (d: Buffer) => got.push(d));
    const out = new Outbox();
    const owner: AsyncWriteOwner = { asyncWriteDone() { assert.fail('a small turn does not go async'); } };
    const want: Buffer[] = [];
    for (let turn = 0; turn < 100; turn++) {
      const p = packet(turn, 100 + turn);
      want.push(p);
      out.append(p);
      const pooled = pooledSlabs();
      assert.equal(out.writeToHandle(writableHandle(a)!, owner), 0, 'the kernel took it all');
      assert.equal(pooledSlabs(), pooled + 1, 'slab returned');
      assert.equal(a.writableLength, 0, 'the stream never held it');
    }
    const total = want.reduce((n, p) => n + p.length, 0);
    const t0 = Date.now();
    while (got.reduce((n, d) => n + d.length, 0) < total && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.ok(Buffer.concat(got).equals(Buffer.concat(want)), 'every byte, in order');
  } finally { close(); }
});

test('handle writes to a peer that stops reading: libuv holds the turns in order, tells the owner of each, and the slabs come back only then', async (t) => {
  if (!handleWrites) { t.skip('no stream_wrap binding in this Node: the stream writes'); return; }
  const { a, b, close } = await pair();
  try {
    b.pause();
    const out = new Outbox();
    let held = 0;
    let completions = 0;
    const owner: AsyncWriteOwner = {
      asyncWriteDone(status, bytes, slab) {
        assert.equal(status, 0);
        held -= bytes;
        completions++;
        if (slab !== null) releaseSlab(slab);
      },
    };
    const sent: Buffer[] = [];
    let n = 0;
    for (let turn = 0; turn < 40; turn++) {
      for (let k = 0; k < 200; k++) {
        const p = packet(n++, k === 100 ? SLAB_SIZE : 1000);
        sent.push(p);
        out.append(p);
      }
      const r = out.writeToHandle(writableHandle(a)!, owner);
      assert.ok(r >= 0, `no error (${r})`);
      held += r;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(held > 0, 'libuv holds bytes for the stopped reader');
    await readsAll(b, Buffer.concat(sent), () => held === 0);
    assert.equal(held, 0, 'every held write completed and was reported');
    assert.ok(completions > 0);
  } finally { close(); }
});

test('turns of one length from two slabs in turn: each write carries its own bytes (the views a write takes are reused per slab and length)', async (t) => {
  if (!handleWrites) { t.skip('no stream_wrap binding in this Node: the stream writes'); return; }
  const one = await pair();
  const two = await pair();
  try {
    const owner: AsyncWriteOwner = { asyncWriteDone(_s, _b, slab) { if (slab !== null) releaseSlab(slab); } };
    const o1 = new Outbox();
    const o2 = new Outbox();
    const sent1: Buffer[] = [];
    const sent2: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      // Both outboxes hold a slab at once, so they take two; given back in turn, the next
      // turn takes them the other way round: the same length from a different slab each time.
      const p1 = packet(2 * i, 40);
      const p2 = packet(2 * i + 1, 40);
      o1.append(p1);
      o2.append(p2);
      sent1.push(p1);
      sent2.push(p2);
      assert.ok(o1.writeToHandle(writableHandle(one.a)!, owner) >= 0);
      assert.ok(o2.writeToHandle(writableHandle(two.a)!, owner) >= 0);
    }
    await Promise.all([readsAll(one.b, Buffer.concat(sent1), () => true), readsAll(two.b, Buffer.concat(sent2), () => true)]);
  } finally { one.close(); two.close(); }
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

test('appendAsV5: the v3.1.1 QoS 0 PUBLISH turned into the MQTT 5 one is what encodePublish writes, at every Remaining Length boundary', () => {
  const out = new Outbox();
  for (const size of [0, 1, 100, 122, 123, 124, 125, 126, 127, 1000, 16369, 16370, 16371, 16372, 16380, 40000, 2097140, 2097141, 2097142]) {
    for (const topic of ['t', 'é/ü/x', 'a/b/c/d/e/f/g/h']) {
      for (const retain of [false, true]) {
        const payload = Buffer.alloc(size, 0x61);
        const v4 = encodePublish(topic, payload, 0, retain, false, 0, 4, null, -1, null, 0, true);
        const framed = Buffer.concat([Buffer.alloc(5, 0xee), v4, Buffer.alloc(3, 0xee)]);
        const payloadOff = 5 + v4.length - size;
        const want = encodePublish(topic, payload, 0, retain, false, 0, 5, null, -1, null, 0, true);
        const n = out.appendAsV5(framed, 5, v4.length, payloadOff, retain ? 0x31 : 0x30);
        assert.equal(n, want.length, `size ${size} topic ${topic}`);
        assert.equal(out.bytes, want.length);
        const got = collect(out);
        assert.ok(got.equals(want), `size ${size} topic ${topic} retain ${retain}`);
      }
    }
  }
});

test('appendWithId and claim + encodePublishAt write what withPacketId and encodePublish would, in order, in slabs and past DIRECT_MIN', () => {
  const out = new Outbox();
  const want: Buffer[] = [];
  let id = 1;
  // Sizes below and above DIRECT_MIN (a packet of its own) and across a slab's end.
  for (const size of [0, 1, 1000, 16000, 32760, 32768, 40000, 65000, 5]) {
    for (const v of [4, 5]) {
      const payload = Buffer.alloc(size, size & 0xff);
      const props = v === 5 ? Buffer.from([0x01, 0x01]) : null; // Payload Format Indicator
      const subIds = v === 5 ? [7, 300] : null;
      const tpl = encodePublish('a/é', payload, 1, false, false, 0, v, props, -1, null, 0, true);
      out.appendWithId(tpl, packetIdOffset(tpl), id);
      want.push(withPacketId(tpl, packetIdOffset(tpl), id, false));
      id += 257;
      const expiry = v === 5 ? 60 : -1;
      const rem = publishRemaining('q/ü', payload, 2, v, props, expiry, subIds, 0, true);
      const one = encodePublish('q/ü', payload, 2, true, false, id, v, props, expiry, subIds, 0, true);
      assert.equal(packetLength(rem), one.length);
      encodePublishAt(out.claim(packetLength(rem)), out.at, rem, 'q/ü', payload, 2, true, false, id, v, props, expiry, subIds, 0);
      want.push(one);
      id += 257;
    }
  }
  const all = Buffer.concat(want);
  assert.equal(out.bytes, all.length);
  assert.equal(out.packets, want.length);
  assert.ok(collect(out).equals(all), 'every packet as the buffer-per-packet encoders write it');
});

/** The outbox's bytes, by writing them to a fake socket that takes everything at once. */
function collect(out: Outbox): Buffer {
  const chunks: Buffer[] = [];
  const sink = {
    writableLength: 0, writableHighWaterMark: 16384,
    write(b: Buffer) { chunks.push(Buffer.from(b)); return true; }, cork() {}, uncork() {},
  } as unknown as net.Socket;
  out.writeTo(sink, false);
  return Buffer.concat(chunks);
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, FramerError } from '../../src/shared/protocol/framer.ts';
import { varintBuffer } from '../../src/shared/protocol/varint.ts';

interface Collected {
  packets: Buffer[];
  /** whether each packet was handed over without a copy (inside the pushed chunk) */
  zeroCopy: boolean[];
  errors: [string, number][];
}

function collector(max = 1 << 20): { framer: Framer; out: Collected; chunks: Set<Buffer> } {
  const out: Collected = { packets: [], zeroCopy: [], errors: [] };
  const chunks = new Set<Buffer>();
  const framer = new Framer(
    max,
    (buf, offset, length) => {
      out.packets.push(Buffer.from(buf.subarray(offset, offset + length)));
      out.zeroCopy.push(chunks.has(buf));
    },
    (code, size) => out.errors.push([code, size]),
  );
  return { framer, out, chunks };
}

function push(c: { framer: Framer; chunks: Set<Buffer> }, chunk: Buffer): void {
  c.chunks.add(chunk);
  c.framer.push(chunk);
}

/** a packet of type PUBLISH with `bodyLen` bytes of body whose content encodes `tag` */
function pkt(bodyLen: number, tag = 0): Buffer {
  const body = Buffer.alloc(bodyLen, tag & 0xff);
  return Buffer.concat([Buffer.from([0x30]), varintBuffer(bodyLen), body]);
}

test('framer: one packet per chunk is handed over without a copy', () => {
  const c = collector();
  const a = pkt(10, 1);
  push(c, a);
  assert.deepEqual(c.out.packets, [a]);
  assert.deepEqual(c.out.zeroCopy, [true]);
});

test('framer: many packets in one chunk, all zero copy, in order', () => {
  const c = collector();
  const list = [pkt(0), pkt(1, 1), pkt(127, 2), pkt(128, 3), pkt(16_384, 4), Buffer.from([0xc0, 0x00])];
  push(c, Buffer.concat(list));
  assert.deepEqual(c.out.packets, list);
  assert.ok(c.out.zeroCopy.every(Boolean));
});

test('framer: a packet split at every byte position comes out whole', () => {
  const list = [pkt(3, 1), pkt(200, 2), pkt(5, 3)]; // the 200-byte one has a 2-byte length
  const stream = Buffer.concat(list);
  for (let cut = 0; cut <= stream.length; cut++) {
    const c = collector();
    push(c, stream.subarray(0, cut));
    push(c, stream.subarray(cut));
    assert.deepEqual(c.out.packets, list, `cut at ${cut}`);
    assert.deepEqual(c.out.errors, []);
  }
});

test('framer: one byte at a time', () => {
  const list = [pkt(0), pkt(300, 7), Buffer.from([0xe0, 0x00]), pkt(20_000, 9)];
  const stream = Buffer.concat(list);
  const c = collector();
  for (let i = 0; i < stream.length; i++) push(c, stream.subarray(i, i + 1));
  assert.deepEqual(c.out.packets, list);
  assert.equal(c.framer.buffered, 0);
});

test('framer: random chunking of a long stream (seeded)', () => {
  let s = 7;
  const rnd = (n: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
  const list: Buffer[] = [];
  for (let i = 0; i < 500; i++) list.push(pkt(rnd(4) === 0 ? rnd(40_000) : rnd(100), i));
  const stream = Buffer.concat(list);
  const c = collector();
  for (let pos = 0; pos < stream.length;) {
    const n = 1 + rnd(rnd(2) ? 16 : 70_000);
    push(c, stream.subarray(pos, pos + n));
    pos += n;
  }
  assert.equal(c.out.packets.length, list.length);
  assert.deepEqual(c.out.packets, list);
});

test('framer: push(chunk, start, end) frames only that range, at every split (seeded)', () => {
  let s = 11;
  const rnd = (n: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
  const list: Buffer[] = [];
  for (let i = 0; i < 200; i++) list.push(pkt(rnd(5) === 0 ? rnd(3000) : rnd(60), i));
  const stream = Buffer.concat(list);
  const c = collector();
  for (let pos = 0; pos < stream.length;) {
    const n = 1 + rnd(rnd(2) ? 8 : 5000);
    const part = stream.subarray(pos, pos + n);
    // The range sits inside a bigger buffer with junk on both sides (as in a read slab).
    const before = rnd(20), after = rnd(20);
    const host = Buffer.alloc(before + part.length + after, 0xff);
    part.copy(host, before);
    c.chunks.add(host);
    c.framer.push(host, before, before + part.length);
    pos += n;
  }
  assert.deepEqual(c.out.packets, list);
  assert.deepEqual(c.out.errors, []);
  assert.equal(c.framer.buffered, 0);
});

test('framer: only a packet split across chunks is copied', () => {
  const a = pkt(10, 1), b = pkt(10, 2), d = pkt(10, 3);
  const c = collector();
  const stream = Buffer.concat([a, b, d]);
  push(c, stream.subarray(0, a.length + 4)); // a whole, b started
  push(c, stream.subarray(a.length + 4));    // b finished, d whole
  assert.deepEqual(c.out.packets, [a, b, d]);
  assert.deepEqual(c.out.zeroCopy, [true, false, true]);
});

test('framer: remaining length at the 4-byte maximum is read, then refused by size', () => {
  const c = collector(1 << 20);
  push(c, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
  assert.deepEqual(c.out.errors, [[FramerError.PACKET_TOO_LARGE, 1 + 4 + 268_435_455]]);
});

test('framer: 4-byte remaining length is accepted when the limit allows it', () => {
  const body = 2_097_152; // smallest body needing 4 length bytes
  const c = collector(body + 5);
  const p = pkt(body, 5);
  assert.equal(p.length, body + 5);
  push(c, p.subarray(0, 3)); // header split inside the length
  push(c, p.subarray(3));
  assert.deepEqual(c.out.errors, []);
  assert.equal(c.out.packets.length, 1);
  assert.ok(c.out.packets[0].equals(p));
});

test('framer: a fifth remaining-length byte is malformed (§2.2.3 allows four)', () => {
  const c = collector();
  push(c, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]));
  assert.deepEqual(c.out.errors, [[FramerError.MALFORMED_LENGTH, 0]]);
  const c2 = collector();
  for (const b of [0x30, 0x80, 0x80, 0x80, 0x80, 0x01]) push(c2, Buffer.from([b]));
  assert.deepEqual(c2.out.errors, [[FramerError.MALFORMED_LENGTH, 0]], 'split byte by byte');
});

test('framer: the size limit is checked on the fixed header, before the body arrives', () => {
  const c = collector(100);
  push(c, Buffer.from([0x30, 0x62])); // 2 + 98 = 100: allowed
  assert.deepEqual(c.out.errors, []);
  push(c, Buffer.alloc(98));
  assert.equal(c.out.packets.length, 1);
  push(c, Buffer.from([0x30, 0x63])); // 2 + 99 = 101: refused with no body sent yet
  assert.deepEqual(c.out.errors, [[FramerError.PACKET_TOO_LARGE, 101]]);
  assert.equal(c.framer.buffered, 0);
});

test('framer: size limit counts the whole packet, header included, when the header is split', () => {
  const c = collector(200);
  push(c, Buffer.from([0x30, 0xc7])); // 0xc7 0x01 = 199 → 202 bytes
  assert.deepEqual(c.out.errors, []);
  push(c, Buffer.from([0x01]));
  assert.deepEqual(c.out.errors, [[FramerError.PACKET_TOO_LARGE, 202]]);
});

test('framer: nothing is delivered after an error', () => {
  const c = collector(50);
  push(c, Buffer.concat([pkt(3, 1), pkt(100, 2), pkt(3, 3)]));
  assert.equal(c.out.packets.length, 1);
  assert.equal(c.out.errors.length, 1);
  assert.ok(c.framer.isStopped);
  push(c, pkt(3, 4));
  assert.equal(c.out.packets.length, 1);
  assert.equal(c.out.errors.length, 1, 'the error is reported once');
});

test('framer: maxPacketSize can change between packets (v5 negotiation)', () => {
  const c = collector(1000);
  push(c, pkt(500));
  c.framer.maxPacketSize = 100;
  push(c, pkt(500));
  assert.equal(c.out.packets.length, 1);
  assert.equal(c.out.errors[0][0], FramerError.PACKET_TOO_LARGE);
});

test('framer: reset drops a partial packet and clears an error', () => {
  const c = collector(50);
  push(c, pkt(20, 1).subarray(0, 10));
  c.framer.reset();
  assert.equal(c.framer.buffered, 0);
  push(c, pkt(5, 2));
  assert.deepEqual(c.out.packets, [pkt(5, 2)]);
  push(c, pkt(100));
  assert.ok(c.framer.isStopped);
  c.framer.reset();
  push(c, pkt(1, 3));
  assert.deepEqual(c.out.packets, [pkt(5, 2), pkt(1, 3)]);
});

test('framer: stop() from inside the handler ends delivery of the current chunk', () => {
  const seen: number[] = [];
  const f: Framer = new Framer(1000, (buf, off) => {
    seen.push(buf[off + 2]);
    if (seen.length === 2) f.stop();
  }, () => assert.fail('no error expected'));
  f.push(Buffer.concat([pkt(1, 1), pkt(1, 2), pkt(1, 3)]));
  assert.deepEqual(seen, [1, 2]);
  f.push(pkt(1, 4));
  assert.deepEqual(seen, [1, 2]);
});

test('framer: stop() from the handler of a reassembled packet also ends delivery', () => {
  const seen: number[] = [];
  const f: Framer = new Framer(1000, (buf, off) => {
    seen.push(buf[off + 2]);
    f.stop();
  }, () => assert.fail('no error expected'));
  const s = Buffer.concat([pkt(4, 1), pkt(1, 2)]);
  f.push(s.subarray(0, 3));
  f.push(s.subarray(3));
  assert.deepEqual(seen, [1]);
});

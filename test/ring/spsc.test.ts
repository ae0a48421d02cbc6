import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpscRing } from '../../src/shared/ring/spsc.ts';
import { CACHE_LINE, HEADER_BYTES, Slot, recordBytes, ringByteLength } from '../../src/shared/ring/layout.ts';

function makeRing(capacity: number, start = 0): SpscRing {
  const sab = new SharedArrayBuffer(SpscRing.byteLength(capacity));
  if (start !== 0) {
    const i32 = new Int32Array(sab);
    Atomics.store(i32, Slot.WRITE, start | 0);
    Atomics.store(i32, Slot.READ, start | 0);
  }
  return new SpscRing(sab, 0, capacity);
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return out;
}

/** A plain Uint8Array copy (Buffer#slice would be a view, and deepEqual checks prototypes). */
function copyOut(buf: Uint8Array, offset: number, length: number): Uint8Array {
  return Uint8Array.from(buf.subarray(offset, offset + length));
}

/** Read one frame and return a copy of it (and whether it was handed over zero-copy). */
function readCopy(ring: SpscRing): { bytes: Uint8Array; zeroCopy: boolean; offset: number } | null {
  let got: { bytes: Uint8Array; zeroCopy: boolean; offset: number } | null = null;
  const ok = ring.read((buf, offset, length) => {
    got = { bytes: copyOut(buf, offset, length), zeroCopy: buf === ring.data, offset };
  });
  assert.equal(ok, got !== null);
  return got;
}

test('layout: indices on separate cache lines, sizes are multiples of 64', () => {
  assert.ok(Slot.READ * 4 - Slot.WRITE * 4 >= CACHE_LINE);
  assert.ok(Slot.CAPACITY * 4 - Slot.READ * 4 >= CACHE_LINE);
  assert.equal(HEADER_BYTES % CACHE_LINE, 0);
  assert.equal(ringByteLength(1024), HEADER_BYTES + 1024);
  assert.equal(ringByteLength(1 << 16) % CACHE_LINE, 0);
  assert.equal(recordBytes(0), 4);
  assert.equal(recordBytes(1), 8);
  assert.equal(recordBytes(4), 8);
  assert.equal(recordBytes(5), 12);
});

test('capacity must be a power of two within limits', () => {
  for (const bad of [0, 3, 100, 1000, 8, 2 ** 31, 1.5, -16]) {
    assert.throws(() => ringByteLength(bad), { name: 'RangeError', message: /power of two/ });
    assert.throws(() => new SpscRing(new SharedArrayBuffer(4096), 0, bad), { name: 'RangeError', message: /power of two/ });
  }
  assert.throws(() => new SpscRing(new SharedArrayBuffer(100), 0, 64), /needs 256 bytes/);
  assert.throws(() => new SpscRing(new SharedArrayBuffer(1024), 2, 64), /multiple of 4/);
});

test('two sides agree on capacity; a mismatch is caught', () => {
  const sab = new SharedArrayBuffer(SpscRing.byteLength(256));
  const a = new SpscRing(sab, 0, 256);
  const b = new SpscRing(sab, 0, 256);
  assert.equal(a.maxFrame, 252);
  assert.ok(a.write(pattern(10, 1), 0, 10));
  assert.deepEqual(readCopy(b)?.bytes, pattern(10, 1));
  const sab2 = new SharedArrayBuffer(SpscRing.byteLength(256));
  new SpscRing(sab2, 0, 128);
  assert.throws(() => new SpscRing(sab2, 0, 256), /set up with capacity 128/);
});

test('empty ring: read returns false and never calls the handler', () => {
  const ring = makeRing(64);
  let calls = 0;
  assert.equal(ring.read(() => calls++), false);
  assert.equal(ring.drain(10, () => calls++), 0);
  assert.equal(calls, 0);
  assert.equal(ring.isEmpty(), true);
  assert.equal(ring.usedBytes(), 0);
});

test('fill until full, then write returns false until the consumer frees space', () => {
  const ring = makeRing(64);
  const frame = pattern(13, 3); // 12-byte payloads make 16-byte records: exactly 4 fit
  for (let i = 0; i < 4; i++) assert.equal(ring.write(frame, 0, 12), true, `write ${i}`);
  assert.equal(ring.usedBytes(), 64);
  assert.equal(ring.write(frame, 0, 12), false);
  assert.equal(ring.write(frame, 0, 0), false, 'even a zero-length record needs 4 bytes');
  assert.deepEqual(readCopy(ring)?.bytes, frame.subarray(0, 12));
  assert.equal(ring.usedBytes(), 48);
  assert.equal(ring.write(frame, 0, 13), false, '13 bytes need a 20-byte record');
  assert.equal(ring.write(frame, 0, 12), true);
  assert.equal(ring.drain(100, () => {}), 4);
  assert.equal(ring.isEmpty(), true);
});

test('wrap-around: every start position x every length x every source alignment', () => {
  const cap = 64;
  for (let start = 0; start < cap; start += 4) {
    for (let length = 0; length <= cap - 4; length++) {
      for (let srcOff = 0; srcOff < 4; srcOff++) {
        const ring = makeRing(cap, start);
        const src = pattern(length + srcOff + 3, start + length + srcOff);
        assert.equal(ring.write(src, srcOff, length), true);
        const got = readCopy(ring);
        assert.ok(got, `start ${start} length ${length}`);
        assert.deepEqual(got.bytes, src.subarray(srcOff, srcOff + length), `start ${start} length ${length} srcOff ${srcOff}`);
        const payloadAt = (start + 4) % cap;
        const wraps = payloadAt + length > cap;
        assert.equal(got.zeroCopy, !wraps, `zero-copy iff contiguous (start ${start} length ${length})`);
        if (!wraps) assert.equal(got.offset, payloadAt);
        assert.equal(ring.isEmpty(), true);
      }
    }
  }
});

test('frames larger than half the ring, stepping through all positions', () => {
  const ring = makeRing(256);
  for (let i = 0; i < 300; i++) {
    const length = 129 + (i % 124); // 129..252
    const frame = pattern(length, i);
    assert.equal(ring.write(frame, 0, length), true, `frame ${i}`);
    assert.equal(ring.write(frame, 0, 129), false, 'a second big frame cannot fit');
    assert.deepEqual(readCopy(ring)?.bytes, frame, `frame ${i}`);
  }
});

test('zero-length frames interleaved with others', () => {
  const ring = makeRing(64);
  const lengths = [0, 0, 5, 0, 9, 0, 0, 3];
  for (const [i, n] of lengths.entries()) assert.equal(ring.write(pattern(n, i), 0, n), true);
  assert.equal(ring.usedBytes(), 4 * 5 + 12 + 16 + 8);
  const seen: number[] = [];
  assert.equal(ring.drain(100, (_b, _o, length) => seen.push(length)), lengths.length);
  assert.deepEqual(seen, lengths);
  for (let i = 0; i < 16; i++) assert.equal(ring.write(new Uint8Array(0), 0, 0), true);
  assert.equal(ring.write(new Uint8Array(0), 0, 0), false);
  assert.equal(ring.drain(100, (_b, _o, length) => assert.equal(length, 0)), 16);
});

test('maxFrame boundary and RangeError beyond', () => {
  const ring = makeRing(128, 40);
  assert.equal(ring.maxFrame, 124);
  const big = pattern(200, 9);
  assert.throws(() => ring.write(big, 0, 125), { name: 'RangeError', message: /maxFrame 124/ });
  assert.throws(() => ring.write(big, 0, -1), RangeError);
  assert.throws(() => ring.write(big, 190, 20), { name: 'RangeError', message: /outside the source/ });
  assert.equal(ring.write(big, 0, 124), true, 'maxFrame fits an empty ring exactly');
  assert.equal(ring.usedBytes(), 128);
  assert.equal(ring.write(big, 0, 0), false);
  assert.deepEqual(readCopy(ring)?.bytes, big.subarray(0, 124));
  assert.equal(ring.write(big, 0, 1), true);
  assert.equal(ring.write(big, 0, 124), false, 'maxFrame needs the whole ring');
});

test('indices wrap past 2^31 and 2^32', () => {
  for (const start of [0x7fffffe0, -32, 0x7fffff00]) {
    const ring = makeRing(64, start);
    let expectedW = start | 0;
    let next = 0;
    let expectRead = 0;
    const sizes = [7, 0, 20, 13, 60, 1, 33, 4];
    for (let round = 0; round < 40; round++) {
      // Fill until full, then drain half: keeps the indices crossing the sign boundary.
      for (let guard = 0; ; guard++) {
        assert.ok(guard < 64, 'a 64-byte ring cannot take 64 more records');
        const n = sizes[next % sizes.length]!;
        if (!ring.write(pattern(n, next), 0, n)) break;
        expectedW = (expectedW + recordBytes(n)) | 0;
        next++;
      }
      assert.ok(ring.usedBytes() > 0 && ring.usedBytes() <= 64, `used ${ring.usedBytes()}`);
      ring.drain(2, (buf, offset, length) => {
        const n = sizes[expectRead % sizes.length]!;
        assert.equal(length, n);
        assert.deepEqual(copyOut(buf, offset, length), pattern(n, expectRead));
        expectRead++;
      });
    }
    ring.drain(1000, (buf, offset, length) => {
      assert.deepEqual(copyOut(buf, offset, length), pattern(sizes[expectRead % sizes.length]!, expectRead));
      expectRead++;
    });
    assert.equal(expectRead, next);
    const i32 = new Int32Array(ring.data.buffer as SharedArrayBuffer, 0, 64);
    assert.equal(Atomics.load(i32, Slot.WRITE), expectedW);
    assert.equal(Atomics.load(i32, Slot.READ), expectedW);
    assert.notEqual(Math.sign(expectedW), Math.sign(start), `start ${start} crossed a sign boundary`);
  }
});

test('drain respects the budget', () => {
  const ring = makeRing(256);
  for (let i = 0; i < 10; i++) ring.write(pattern(3, i), 0, 3);
  assert.equal(ring.drain(4, () => {}), 4);
  assert.equal(ring.drain(0, () => {}), 0);
  assert.equal(ring.drain(100, () => {}), 6);
});

test('a throwing handler still releases its frame', () => {
  const ring = makeRing(64);
  ring.write(pattern(5, 1), 0, 5);
  ring.write(pattern(6, 2), 0, 6);
  assert.throws(() => ring.read(() => { throw new Error('boom'); }), /boom/);
  assert.deepEqual(readCopy(ring)?.bytes, pattern(6, 2));
  assert.equal(ring.isEmpty(), true);
});

test('tags ride in the length word without costing bytes', () => {
  const ring = makeRing(64);
  for (const tag of [0, 1, 2, 3]) assert.equal(ring.write(pattern(8, tag), 0, 8, tag), true);
  assert.equal(ring.usedBytes(), 48);
  const tags: number[] = [];
  ring.drain(10, (_b, _o, length, tag) => {
    assert.equal(length, 8);
    tags.push(tag);
  });
  assert.deepEqual(tags, [0, 1, 2, 3]);
  assert.throws(() => ring.write(pattern(1, 0), 0, 1, 4), RangeError);
});

test('rings at different offsets in one buffer stay independent', () => {
  const cap = 128;
  const len = SpscRing.byteLength(cap);
  const sab = new SharedArrayBuffer(len * 3);
  const rings = [0, 1, 2].map((i) => new SpscRing(sab, i * len, cap));
  rings.forEach((r, i) => assert.equal(r.write(pattern(40 + i, i), 0, 40 + i), true));
  rings.forEach((r, i) => assert.deepEqual(readCopy(r)?.bytes, pattern(40 + i, i)));
  rings.forEach((r) => assert.equal(r.isEmpty(), true));
});

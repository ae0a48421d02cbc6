import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpscRing } from '../../src/shared/ring/spsc.ts';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import { RingReceiver, RingSender, TAG_FIRST, TAG_LAST, TAG_MIDDLE, TAG_WHOLE } from '../../src/shared/ring/channel.ts';
import { prng } from './stress-frames.ts';

function makeRing(capacity: number): SpscRing {
  return new SpscRing(new SharedArrayBuffer(SpscRing.byteLength(capacity)), 0, capacity);
}

/** Frame i: its index in the first 4 bytes (when it has room), then a pattern. */
function frame(i: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let k = 0; k < length; k++) out[k] = (i * 131 + k * 17 + 5) & 0xff;
  if (length >= 4) new DataView(out.buffer).setUint32(0, i, true);
  return out;
}

function collect(receiver: RingReceiver, budget: number, into: Uint8Array[]): number {
  return receiver.drain(budget, (buf, offset, length) => {
    into.push(Uint8Array.from(buf.subarray(offset, offset + length)));
  });
}

test('unfragmented frames pass straight through; dirty and commit ring the doorbell once', () => {
  const sab = new SharedArrayBuffer(SpscRing.byteLength(256) + Doorbell.byteLength);
  const ring = new SpscRing(sab, 0, 256);
  const bell = new Doorbell(sab, SpscRing.byteLength(256));
  const sender = new RingSender(ring, { doorbell: bell });
  const receiver = new RingReceiver(ring);
  assert.equal(sender.dirty, false);
  assert.equal(sender.commit(), false);
  for (let i = 0; i < 5; i++) assert.equal(sender.send(frame(i, 10 + i), 0, 10 + i), true);
  assert.equal(sender.dirty, true);
  assert.equal(bell.sequence(), 0);
  assert.equal(sender.commit(), true);
  assert.equal(bell.sequence(), 1);
  assert.equal(sender.commit(), false, 'nothing new since the last commit');
  assert.equal(bell.sequence(), 1);
  // The tag costs no ring bytes: 5 records of 10..14 bytes + 4-byte length words, padded.
  assert.equal(ring.usedBytes(), 16 + 16 + 16 + 20 + 20);
  const got: Uint8Array[] = [];
  let zeroCopy = 0;
  assert.equal(receiver.drain(3, (buf) => { if (buf === ring.data) zeroCopy++; }), 3);
  assert.equal(zeroCopy, 3);
  assert.equal(collect(receiver, 100, got), 2);
  assert.deepEqual(got, [frame(3, 13), frame(4, 14)]);
  assert.equal(sender.spilledTotal, 0);
});

test('spill keeps FIFO order while the ring fills and frees', () => {
  const ring = makeRing(64);
  const sender = new RingSender(ring);
  const receiver = new RingReceiver(ring);
  const results: boolean[] = [];
  for (let i = 0; i < 10; i++) results.push(sender.send(frame(i, 12), 0, 12)); // 16-byte records
  assert.deepEqual(results, [true, true, true, true, false, false, false, false, false, false]);
  assert.equal(sender.pending, 6);
  assert.equal(sender.pendingBytes, 72);
  assert.equal(sender.spilledTotal, 6);
  assert.equal(sender.spilled, 6);

  const got: Uint8Array[] = [];
  assert.equal(collect(receiver, 3, got), 3);
  // The ring has room for 3 now, but 6 frames are waiting: a new frame must queue behind them.
  assert.equal(sender.send(frame(10, 12), 0, 12), false);
  assert.equal(sender.pending, 7);
  sender.dirty = false;
  assert.equal(sender.flush(), 3);
  assert.equal(sender.dirty, true);
  assert.equal(sender.pending, 4);
  assert.equal(sender.flush(), 0, 'ring is full again');

  for (let spin = 0; spin < 20 && (sender.pending > 0 || !ring.isEmpty()); spin++) {
    collect(receiver, 2, got);
    sender.flush();
  }
  assert.equal(sender.pending, 0);
  assert.equal(sender.pendingBytes, 0);
  assert.equal(sender.spilledTotal, 7);
  assert.deepEqual(got.map((f) => new DataView(f.buffer).getUint32(0, true)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  got.forEach((f, i) => assert.deepEqual(f, frame(i, 12)));
  // Queue empty again: sends go straight to the ring.
  assert.equal(sender.send(frame(11, 3), 0, 3), true);
});

test('fragmentation round trip: 1x, 2.5x and 10x maxFrame interleaved with small frames', () => {
  const ring = makeRing(1024);
  const max = ring.maxFrame; // 1020
  const sender = new RingSender(ring);
  const receiver = new RingReceiver(ring);
  assert.equal(sender.fragmentSize, 252);
  const sizes = [5, max, 0, Math.floor(2.5 * max), 17, 10 * max, 1, max + 1, 300, 10 * max, 2];
  const frames = sizes.map((n, i) => frame(i, n));
  const got: Uint8Array[] = [];
  let reassembledViews = 0;
  for (const f of frames) {
    sender.send(f, 0, f.length);
    // A slow consumer: drain a little between sends so spill, flush and partial frames mix.
    receiver.drain(1, (buf, offset, length) => {
      if (length > max) reassembledViews += buf === ring.data ? 0 : 1;
      got.push(Uint8Array.from(buf.subarray(offset, offset + length)));
    });
    sender.flush();
  }
  assert.ok(sender.spilledTotal > 0, 'the big frames must have spilled');
  for (let spin = 0; spin < 1000 && got.length < frames.length; spin++) {
    sender.flush();
    receiver.drain(4, (buf, offset, length) => {
      if (length > max) reassembledViews += buf === ring.data ? 0 : 1;
      got.push(Uint8Array.from(buf.subarray(offset, offset + length)));
    });
  }
  assert.equal(got.length, frames.length);
  assert.deepEqual(got.map((f) => f.length), sizes);
  got.forEach((f, i) => assert.deepEqual(f, frames[i], `frame ${i} (${sizes[i]} bytes)`));
  assert.equal(reassembledViews, 4);
  assert.equal(receiver.reassembling, false);
  assert.equal(sender.pending, 0);
  assert.equal(ring.isEmpty(), true);
});

test('a fragmented frame is FIRST, MIDDLE..., LAST in fragmentSize pieces', () => {
  const ring = makeRing(1024);
  const sender = new RingSender(ring); // fragments of 252 bytes
  const length = Math.floor(2.5 * ring.maxFrame); // 2550 = 10 x 252 + 30
  const f = frame(7, length);
  assert.equal(sender.send(f, 0, length), false, 'more than the ring holds');
  assert.equal(sender.pending, 1);
  const records: Array<[number, number]> = [];
  for (let spin = 0; spin < 100 && (sender.pending > 0 || !ring.isEmpty()); spin++) {
    ring.drain(2, (_b, _o, n, tag) => records.push([tag, n]));
    sender.flush();
  }
  assert.deepEqual(records, [
    [TAG_FIRST, 252],
    ...Array.from({ length: 9 }, (): [number, number] => [TAG_MIDDLE, 252]),
    [TAG_LAST, 30],
  ]);
  assert.equal(sender.send(frame(8, 1), 0, 1), true);
  ring.read((_b, _o, n, tag) => records.push([tag, n]));
  assert.deepEqual(records.at(-1), [TAG_WHOLE, 1]);
});

test('receiver budget counts whole frames; fragments in progress do not count', () => {
  const ring = makeRing(512);
  const sender = new RingSender(ring, { fragmentSize: 100 });
  const receiver = new RingReceiver(ring);
  assert.equal(sender.send(frame(0, 600), 0, 600), false); // 6 fragments of 104-byte records: 4 fit
  sender.send(frame(1, 4), 0, 4);
  sender.send(frame(2, 4), 0, 4);
  assert.equal(sender.pending, 3);
  const got: Uint8Array[] = [];
  assert.equal(collect(receiver, 1, got), 0, 'frame 0 cannot complete yet');
  assert.equal(receiver.records, 4, 'but its fragments were consumed, freeing space');
  assert.equal(receiver.reassembling, true);
  assert.equal(sender.flush(), 3);
  assert.equal(collect(receiver, 1, got), 1);
  assert.equal(receiver.records, 6);
  assert.deepEqual(got[0], frame(0, 600));
  assert.equal(collect(receiver, 5, got), 2);
  assert.equal(receiver.records, 8);
  assert.deepEqual(got.slice(1), [frame(1, 4), frame(2, 4)]);
});

test('framing violations are reported, not silently glued together', () => {
  const ring = makeRing(256);
  const receiver = new RingReceiver(ring);
  ring.write(new Uint8Array(3), 0, 3, TAG_MIDDLE);
  assert.throws(() => receiver.drain(10, () => {}), /MIDDLE fragment without FIRST/);
  ring.write(new Uint8Array(3), 0, 3, TAG_FIRST);
  ring.write(new Uint8Array(3), 0, 3, TAG_WHOLE);
  assert.throws(() => receiver.drain(10, () => {}), /unfragmented frame inside a fragmented one/);
  // The receiver recovers for the next well-formed frame.
  ring.write(new Uint8Array([9, 8]), 0, 2, TAG_WHOLE);
  const got: Uint8Array[] = [];
  assert.equal(collect(receiver, 10, got), 1);
  assert.deepEqual(got, [new Uint8Array([9, 8])]);
});

test('sender options are validated', () => {
  const ring = makeRing(64);
  assert.equal(new RingSender(ring).fragmentSize, ring.maxFrame, 'tiny rings fragment at maxFrame');
  assert.throws(() => new RingSender(ring, { fragmentSize: 0 }), RangeError);
  assert.throws(() => new RingSender(ring, { fragmentSize: 61 }), RangeError);
  assert.throws(() => new RingSender(ring).send(new Uint8Array(4), 2, 3), RangeError);
});

test('randomised single-thread interleaving of send, flush and drain keeps every frame intact and in order', () => {
  const capacity = 4096;
  const ring = makeRing(capacity);
  const sender = new RingSender(ring);
  const receiver = new RingReceiver(ring);
  const lengths = prng(11);
  const ops = prng(12);
  const expected: number[] = [];
  const total = 30_000;
  let sent = 0;
  let got = 0;
  for (let step = 0; got < total; step++) {
    assert.ok(step < 10 * total, `stuck: sent ${sent}, got ${got}, pending ${sender.pending}`);
    const op = ops() % 8;
    if (op < 4 && sent < total) {
      const r = lengths() % 100;
      const length = r < 70 ? r : r < 95 ? 100 + r * 20 : capacity + r * 97; // up to ~3x capacity
      const f = frame(sent, length);
      expected.push(length);
      sender.send(f, 0, length);
      sent++;
    } else if (op < 6) {
      sender.flush();
    } else {
      receiver.drain(1 + (ops() % 20), (buf, offset, length) => {
        assert.equal(length, expected[got], `frame ${got} length`);
        const want = frame(got, length);
        assert.equal(Buffer.compare(buf.subarray(offset, offset + length), want), 0, `frame ${got} bytes`);
        got++;
      });
    }
  }
  assert.ok(sender.spilledTotal > 1000, `spilled ${sender.spilledTotal}`);
  assert.equal(sender.pending, 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeVarint, encodeVarint, varintBuffer, varintLength, VARINT_INCOMPLETE, VARINT_MALFORMED,
} from '../../src/shared/protocol/varint.ts';

// Spec §1.5.5 table 1-1: the boundaries of each encoded size.
const BOUNDARIES: [number, string][] = [
  [0, '00'], [127, '7f'],
  [128, '8001'], [16_383, 'ff7f'],
  [16_384, '808001'], [2_097_151, 'ffff7f'],
  [2_097_152, '80808001'], [268_435_455, 'ffffff7f'],
];

test('varint encodes the table 1-1 boundaries', () => {
  for (const [value, hex] of BOUNDARIES) {
    assert.equal(varintBuffer(value).toString('hex'), hex, String(value));
    assert.equal(varintLength(value), hex.length / 2);
  }
});

test('varint decodes the table 1-1 boundaries at an offset', () => {
  for (const [value, hex] of BOUNDARIES) {
    const buf = Buffer.concat([Buffer.from([0xaa, 0xbb]), Buffer.from(hex, 'hex'), Buffer.from([0xcc])]);
    assert.deepEqual(decodeVarint(buf, 2), { value, bytes: hex.length / 2 });
  }
});

test('varint out of range is refused when encoding', () => {
  for (const v of [-1, 268_435_456, 1.5, Number.NaN]) {
    assert.throws(() => varintBuffer(v), RangeError);
  }
  assert.throws(() => encodeVarint(268_435_456, Buffer.alloc(8), 0), RangeError);
});

test('varint longer than four bytes is malformed', () => {
  assert.equal(decodeVarint(Buffer.from('ffffffff7f', 'hex'), 0).bytes, VARINT_MALFORMED);
  assert.equal(decodeVarint(Buffer.from('8080808001', 'hex'), 0).bytes, VARINT_MALFORMED);
  // four continuation bytes are already enough to know, even with nothing after them
  assert.equal(decodeVarint(Buffer.from('80808080', 'hex'), 0).bytes, VARINT_MALFORMED);
});

test('varint cut short is incomplete, not malformed', () => {
  assert.equal(decodeVarint(Buffer.alloc(0), 0).bytes, VARINT_INCOMPLETE);
  assert.equal(decodeVarint(Buffer.from('ff', 'hex'), 0).bytes, VARINT_INCOMPLETE);
  assert.equal(decodeVarint(Buffer.from('ffff', 'hex'), 0).bytes, VARINT_INCOMPLETE);
  assert.equal(decodeVarint(Buffer.from('ffffff', 'hex'), 0).bytes, VARINT_INCOMPLETE);
  // `end` bounds the read even when the buffer goes on
  assert.equal(decodeVarint(Buffer.from('ff7f', 'hex'), 0, 1).bytes, VARINT_INCOMPLETE);
});

test('varint accepts non-minimal encodings, as mqtt-packet does', () => {
  assert.deepEqual(decodeVarint(Buffer.from('8000', 'hex'), 0), { value: 0, bytes: 2 });
});

test('varint round-trips random values', () => {
  let s = 12345;
  const buf = Buffer.alloc(8);
  for (let i = 0; i < 10_000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const v = s % 268_435_456;
    const n = encodeVarint(v, buf, 3);
    assert.equal(n, varintLength(v));
    assert.deepEqual(decodeVarint(buf, 3), { value: v, bytes: n });
  }
});

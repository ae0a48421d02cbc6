import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { isValidMqttUtf8Bytes, isValidMqttString } from '../../src/shared/protocol/utf8.ts';

const ok = (b: number[] | Buffer) => {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
  return isValidMqttUtf8Bytes(buf, 0, buf.length);
};

test('UTF-8 validation accepts ASCII, multibyte text and the edges of the code space', () => {
  assert.ok(ok(Buffer.from('sensors/temperature')));
  assert.ok(ok(Buffer.from('température/東京/😀')));
  assert.ok(ok([]));
  assert.ok(ok([0x7f]));
  assert.ok(ok([0xc2, 0x80])); // U+0080
  assert.ok(ok([0xdf, 0xbf])); // U+07FF
  assert.ok(ok([0xe0, 0xa0, 0x80])); // U+0800
  assert.ok(ok([0xed, 0x9f, 0xbf])); // U+D7FF, just below the surrogates
  assert.ok(ok([0xee, 0x80, 0x80])); // U+E000, just above
  assert.ok(ok([0xef, 0xbf, 0xbf])); // U+FFFF (a non-character, only SHOULD NOT)
  assert.ok(ok([0xf0, 0x90, 0x80, 0x80])); // U+10000
  assert.ok(ok([0xf4, 0x8f, 0xbf, 0xbf])); // U+10FFFF
  assert.ok(ok([0x01, 0x1f])); // control characters are only a SHOULD NOT
});

test('[MQTT-1.5.4-2] UTF-8 validation rejects U+0000, in the ASCII run and after multibyte text', () => {
  assert.ok(!ok([0x61, 0x00, 0x62]));
  assert.ok(!ok([0x00]));
  assert.ok(!ok([0xc3, 0xa9, 0x00]));
  assert.ok(!ok(Buffer.concat([Buffer.from('é'.repeat(200)), Buffer.from([0])])), 'long path');
});

test('[MQTT-1.5.4-1] UTF-8 validation rejects overlong forms', () => {
  assert.ok(!ok([0xc0, 0xaf])); // '/' in two bytes
  assert.ok(!ok([0xc0, 0x80])); // modified-UTF-8 NUL
  assert.ok(!ok([0xc1, 0xbf]));
  assert.ok(!ok([0xe0, 0x9f, 0xbf])); // U+07FF in three bytes
  assert.ok(!ok([0xf0, 0x8f, 0xbf, 0xbf])); // U+FFFF in four bytes
});

test('[MQTT-1.5.4-1] UTF-8 validation rejects surrogates U+D800..U+DFFF', () => {
  assert.ok(!ok([0xed, 0xa0, 0x80]));
  assert.ok(!ok([0xed, 0xbf, 0xbf]));
  assert.ok(!ok([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80])); // CESU-8 pair
});

test('[MQTT-1.5.4-1] UTF-8 validation rejects code points above U+10FFFF and invalid bytes', () => {
  assert.ok(!ok([0xf4, 0x90, 0x80, 0x80]));
  assert.ok(!ok([0xf5, 0x80, 0x80, 0x80]));
  assert.ok(!ok([0xff]));
  assert.ok(!ok([0x80])); // lone continuation
  assert.ok(!ok([0xc3])); // truncated
  assert.ok(!ok([0xe2, 0x82])); // truncated
  assert.ok(!ok([0xf0, 0x9f, 0x98])); // truncated
  assert.ok(!ok([0xc3, 0x28])); // lead followed by ASCII
});

test('UTF-8 validation respects start and end', () => {
  const buf = Buffer.from([0x00, 0x61, 0xc3, 0xa9, 0xff]);
  assert.ok(isValidMqttUtf8Bytes(buf, 1, 4));
  assert.ok(!isValidMqttUtf8Bytes(buf, 0, 4));
  assert.ok(!isValidMqttUtf8Bytes(buf, 1, 5));
  assert.ok(!isValidMqttUtf8Bytes(buf, 1, 3), 'a character cut by end is invalid');
  const long = Buffer.concat([Buffer.from('é'.repeat(100)), Buffer.from([0xff, 0x00])]);
  assert.ok(isValidMqttUtf8Bytes(long, 0, 200), 'native path stops at end');
});

// Differential: node's isUtf8 (simdutf, strict RFC 3629) plus "no NUL" is the definition.
test('UTF-8 validation agrees with buffer.isUtf8 on random byte strings', () => {
  let s = 99;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  // Bias towards bytes that form (or almost form) multibyte sequences.
  const pool = [0x00, 0x2f, 0x61, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1,
    0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
  let valid = 0;
  for (let i = 0; i < 50_000; i++) {
    const len = rnd() % (i % 10 === 0 ? 400 : 12);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = rnd() % 3 === 0 ? pool[rnd() % pool.length] : 0x61 + (rnd() % 20);
    // occasionally splice in real multibyte text so valid long inputs occur too
    if (len > 8 && rnd() % 4 === 0) Buffer.from('é東😀').copy(b, rnd() % (len - 8));
    const expected = isUtf8(b) && !b.includes(0);
    if (expected) valid++;
    assert.equal(isValidMqttUtf8Bytes(b, 0, len), expected, b.toString('hex'));
  }
  assert.ok(valid > 1000, `too few valid samples to mean anything: ${valid}`);
});

test('MQTT strings from JS: no U+0000, no lone surrogate, at most 65535 bytes', () => {
  assert.ok(isValidMqttString('a/b'));
  assert.ok(isValidMqttString(''));
  assert.ok(isValidMqttString('😀'));
  assert.ok(!isValidMqttString('a\u0000b'));
  assert.ok(!isValidMqttString('\ud800'));
  assert.ok(!isValidMqttString('a\udc00b'));
  assert.ok(isValidMqttString('x'.repeat(65_535)));
  assert.ok(!isValidMqttString('x'.repeat(65_536)));
  assert.ok(isValidMqttString('é'.repeat(32_767))); // 65,534 bytes
  assert.ok(!isValidMqttString('é'.repeat(32_768))); // 65,536 bytes
  assert.ok(!isValidMqttString('東'.repeat(21_846))); // 65,538 bytes
});

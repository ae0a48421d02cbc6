// MQTT's rules for UTF-8 strings (spec §1.5.4): well-formed per RFC 3629 (no overlong
// forms, no surrogates U+D800–DFFF, nothing above U+10FFFF) [MQTT-1.5.4-1] and no U+0000
// [MQTT-1.5.4-2]. Control characters and non-characters are only "SHOULD NOT" and pass.
import { isUtf8 } from 'node:buffer';
import { MAX_STRING_BYTES } from './constants.ts';

// Past ~100 bytes of non-ASCII tail the native (SIMD) validator beats the JS loop even
// with the subarray view it needs (Node 26, x64: 64 B js 65 ns / native 93 ns; 128 B
// 111 / 91; 512 B 515 / 117). Topics are short, so the JS path is the common one.
const NATIVE_THRESHOLD = 128;

/** Validates the bytes in [start, end) as an MQTT UTF-8 string body. */
export function isValidMqttUtf8Bytes(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  // Almost every topic and client id is ASCII: one compare per byte covers both the
  // high bit and U+0000.
  while (i < end) {
    const b = buf[i];
    if (b === 0) return false;
    if (b >= 0x80) break;
    i++;
  }
  if (i === end) return true;
  if (end - i >= NATIVE_THRESHOLD) {
    const tail = buf.subarray(i, end);
    return tail.indexOf(0) === -1 && isUtf8(tail);
  }
  return validateTail(buf, i, end);
}

// RFC 3629 §4 byte ranges; the tight second-byte ranges after E0/ED/F0/F4 are what exclude
// overlong forms, surrogates and code points above U+10FFFF.
function validateTail(buf: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    const b0 = buf[i];
    if (b0 < 0x80) {
      if (b0 === 0) return false;
      i++;
      continue;
    }
    if (b0 < 0xc2) return false; // stray continuation byte, or overlong 2-byte lead C0/C1
    if (b0 < 0xe0) {
      if (i + 1 >= end || (buf[i + 1] & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (b0 < 0xf0) {
      if (i + 2 >= end) return false;
      const b1 = buf[i + 1];
      const lo = b0 === 0xe0 ? 0xa0 : 0x80;
      const hi = b0 === 0xed ? 0x9f : 0xbf;
      if (b1 < lo || b1 > hi || (buf[i + 2] & 0xc0) !== 0x80) return false;
      i += 3;
      continue;
    }
    if (b0 < 0xf5) {
      if (i + 3 >= end) return false;
      const b1 = buf[i + 1];
      const lo = b0 === 0xf0 ? 0x90 : 0x80;
      const hi = b0 === 0xf4 ? 0x8f : 0xbf;
      if (b1 < lo || b1 > hi || (buf[i + 2] & 0xc0) !== 0x80 || (buf[i + 3] & 0xc0) !== 0x80) return false;
      i += 4;
      continue;
    }
    return false; // F5–FF never occur in UTF-8
  }
  return true;
}

/**
 * For strings already in JS form (config, API input, decoded packets): no U+0000, no
 * lone surrogate (it would not survive encoding), at most 65,535 bytes once encoded.
 */
export function isValidMqttString(s: string): boolean {
  // Every UTF-16 unit encodes to at least one byte, so this is a cheap lower bound.
  if (s.length > MAX_STRING_BYTES) return false;
  if (s.indexOf('\u0000') !== -1) return false;
  if (!s.isWellFormed()) return false;
  // At most 3 bytes per UTF-16 unit: only long strings can exceed the limit.
  return s.length * 3 <= MAX_STRING_BYTES || Buffer.byteLength(s, 'utf8') <= MAX_STRING_BYTES;
}

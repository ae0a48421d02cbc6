// Byte-level mutations of a packet: each takes the PRNG and a buffer and returns a new
// buffer (inputs are never changed in place: fixtures are shared). The mix favours what a
// parser trips over: the remaining length, type and flag bits, lengths inside the body, cuts.
import type { Prng } from './prng.ts';

type Mutator = (r: Prng, b: Buffer) => Buffer;

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x3f, 0x40, 0xc0];

/** A variable byte integer, possibly an overlong or unterminated one. */
function randomVarint(r: Prng): Buffer {
  switch (r.int(5)) {
    case 0: return Buffer.from([0xff, 0xff, 0xff, 0x7f]); // 268,435,455: the largest
    case 1: return Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]); // five bytes: malformed
    case 2: return Buffer.from([0x80, 0x80, 0x80, 0x00]); // overlong zero
    case 3: return Buffer.from([r.int(128)]);
    default: {
      const n = r.int(4) + 1;
      const out = r.bytes(n);
      for (let i = 0; i < n - 1; i++) out[i]! |= 0x80;
      out[n - 1]! &= 0x7f;
      return out;
    }
  }
}

/** Where the fixed header's remaining length ends (1 + its bytes), capped by the buffer. */
function headerEnd(b: Buffer): number {
  let i = 1;
  while (i < b.length && i < 5 && (b[i]! & 0x80) !== 0) i++;
  return Math.min(b.length, i + 1);
}

const flipBit: Mutator = (r, b) => {
  if (b.length === 0) return b;
  const out = Buffer.from(b);
  const i = r.int(out.length);
  out[i]! ^= 1 << r.int(8);
  return out;
};

const setByte: Mutator = (r, b) => {
  if (b.length === 0) return b;
  const out = Buffer.from(b);
  out[r.int(out.length)] = r.chance(0.6) ? r.pick(INTERESTING) : r.int(256);
  return out;
};

const firstByte: Mutator = (r, b) => {
  if (b.length === 0) return b;
  const out = Buffer.from(b);
  out[0] = r.chance(0.5) ? (out[0]! & 0xf0) | r.int(16) : (r.int(16) << 4) | (out[0]! & 0x0f);
  return out;
};

const remainingLength: Mutator = (r, b) => {
  if (b.length === 0) return b;
  return Buffer.concat([b.subarray(0, 1), randomVarint(r), b.subarray(headerEnd(b))]);
};

/** A two-byte length field inside the body set to something else. */
const innerLength: Mutator = (r, b) => {
  const start = headerEnd(b);
  if (b.length < start + 2) return b;
  const out = Buffer.from(b);
  const at = start + r.int(out.length - start - 1);
  out.writeUInt16BE(r.pick([0, 1, 0x7fff, 0xffff, r.int(65536), out.length - at]) & 0xffff, at);
  return out;
};

const insert: Mutator = (r, b) => {
  const at = r.int(b.length + 1);
  return Buffer.concat([b.subarray(0, at), r.bytes(r.int(16) + 1), b.subarray(at)]);
};

const remove: Mutator = (r, b) => {
  if (b.length < 2) return b;
  const at = r.int(b.length);
  return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + r.int(8) + 1))]);
};

const duplicate: Mutator = (r, b) => {
  if (b.length === 0) return b;
  const at = r.int(b.length);
  const piece = b.subarray(at, Math.min(b.length, at + r.int(32) + 1));
  return Buffer.concat([b.subarray(0, at), piece, piece, b.subarray(at)]);
};

const truncate: Mutator = (r, b) => b.subarray(0, r.int(b.length));

const MUTATORS: readonly Mutator[] = [
  flipBit, flipBit, setByte, setByte, firstByte, remainingLength, remainingLength, innerLength, insert, remove, duplicate, truncate,
];

/** 1–4 mutations in a row. */
export function mutate(r: Prng, b: Buffer): Buffer {
  let out = b;
  const n = r.int(4) + 1;
  for (let i = 0; i < n; i++) out = r.pick(MUTATORS)(r, out);
  return out;
}

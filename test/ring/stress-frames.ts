// The seeded frame sequence shared by the stress test's producer and consumer (not a test file).
//
// Frame i has a length drawn from a seeded PRNG that both sides run, so the consumer knows
// what length to expect even for frames too short to carry a header. Frames of 8+ bytes start
// with [u32 sequence][u32 FNV-1a of bytes 8..]; shorter ones are a fixed function of i.

export interface StressConfig {
  frames: number;
  seed: number;
  capacity: number;
}

/** Progress counters in shared memory, so a hang can be explained. */
export const PROGRESS_SLOTS = 8;
export const Progress = { SENT: 0, PENDING: 1, PUMPS: 2, RECEIVED: 3, RECORDS: 4, WAKES: 5 } as const;

/** mulberry32: tiny, fast, good enough to mix sizes. */
export function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Mixed sizes from 0 B up to 3x the ring capacity (those get fragmented). */
export function nextLength(rand: () => number, capacity: number): number {
  const r = rand();
  const bucket = r % 1000;
  const x = rand();
  if (bucket < 600) return x % 65; // 0..64
  if (bucket < 900) return 65 + (x % 192); // 65..256
  if (bucket < 990) return 257 + (x % 1792); // 257..2048
  if (bucket < 999) return 2049 + (x % (capacity - 4 - 2048)); // up to maxFrame
  return capacity - 3 + (x % (2 * capacity)); // > maxFrame: fragmented
}

export function fnv1a(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

function shortByte(seq: number, k: number): number {
  return ((seq >>> (8 * (k & 3))) ^ (0xa5 + k)) & 0xff;
}

/** Write frame `seq` of `length` bytes into out[0..length). */
export function fillFrame(out: Uint8Array, view: DataView, seq: number, length: number): void {
  if (length < 8) {
    for (let k = 0; k < length; k++) out[k] = shortByte(seq, k);
    return;
  }
  let x = (seq * 0x9e3779b1) | 0;
  for (let k = 8; k < length; k++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    out[k] = x >>> 24;
  }
  view.setUint32(0, seq, true);
  view.setUint32(4, fnv1a(out, 8, length), true);
}

/** Returns null if frame `seq` arrived intact, else what is wrong with it. */
export function checkFrame(buf: Uint8Array, offset: number, length: number, seq: number, expectedLength: number): string | null {
  if (length !== expectedLength) return `frame ${seq}: length ${length}, expected ${expectedLength}`;
  if (length < 8) {
    for (let k = 0; k < length; k++) {
      if (buf[offset + k] !== shortByte(seq, k)) return `frame ${seq}: short frame byte ${k} differs`;
    }
    return null;
  }
  const got = (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
  if (got !== seq) return `frame ${seq}: carries sequence ${got}`;
  const sum = (buf[offset + 4]! | (buf[offset + 5]! << 8) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 24)) >>> 0;
  if (sum !== fnv1a(buf, offset + 8, offset + length)) return `frame ${seq}: checksum mismatch`;
  return null;
}

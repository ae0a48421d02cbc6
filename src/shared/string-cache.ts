// Decoding the same short strings again and again (the topic of every PUBLISH, the topic and
// origin client id of every frame between shards) costs a native call and a fresh string each
// time: ~0.2-0.4 µs, a few percent of a message's whole cost (docs/performance.md). A small
// direct-mapped cache per thread, keyed by the bytes themselves, hands back the string decoded
// the last time those bytes came by (the same instance, so Map lookups keyed by it hit V8's
// cached hash). A miss costs one hash pass more than a plain decode; nothing is allocated
// besides the string itself (key bytes live in one preallocated slab).

const SLOTS = 4096; // power of two
const MAX_LEN = 64; // longer strings are decoded directly
const keyBytes = new Uint8Array(SLOTS * MAX_LEN);
const lens = new Int32Array(SLOTS).fill(-1);
const vals: string[] = new Array<string>(SLOTS).fill('');

/**
 * `buf.toString(latin1 ? 'latin1' : 'utf8', start, end)`, from the cache when the same bytes
 * were decoded before. `latin1` only for bytes known to be ASCII (then both decodings agree,
 * so cached entries are shared with UTF-8 callers).
 */
export function cachedString(buf: Buffer, start: number, end: number, latin1: boolean): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > MAX_LEN) return buf.toString(latin1 ? 'latin1' : 'utf8', start, end);
  let h = 0x811c9dc5 ^ n;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const base = slot * MAX_LEN;
  if (lens[slot] === n) {
    let i = 0;
    while (i < n && keyBytes[base + i] === buf[start + i]) i++;
    if (i === n) return vals[slot]!;
  }
  const s = buf.toString(latin1 ? 'latin1' : 'utf8', start, end);
  for (let i = 0; i < n; i++) keyBytes[base + i] = buf[start + i]!;
  lens[slot] = n;
  vals[slot] = s;
  return s;
}

// FNV-1a over a string's UTF-16 code units: a cheap, stable 32-bit hash (never 0), the same in
// every thread and on every node.
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h | 0) === 0 ? 1 : h | 0;
}

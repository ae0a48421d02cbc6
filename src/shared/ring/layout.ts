// Memory layout of one SPSC ring inside a SharedArrayBuffer region.
//
//   byte   0  ┌ producer line: WRITE index ............ written by the producer only
//   byte  64  ├ consumer line: READ index ............. written by the consumer only
//   byte 128  ├ constants line: CAPACITY, MAGIC ....... written once at set-up
//   byte 192  └ data area: `capacity` bytes
//
// The two indices sit on separate 64-byte cache lines so a producer storing WRITE does not
// invalidate the line the consumer keeps storing READ into (false sharing would make every
// frame a cross-core cache-line ping-pong). Constants get their own line for the same reason:
// both sides read them, neither writes them after set-up.
//
// Indices are free-running byte counters stored as Int32 and compared with `(w - r) | 0`,
// so wrapping past 2^31 is harmless as long as capacity <= 2^30.
//
// Each record in the data area is a 4-byte length word followed by the payload, padded to
// a multiple of 4. Padding keeps every length word 4-aligned, so it never straddles the end
// of the data area and can be read as one Int32 element. The top two bits of the length
// word carry a tag (0..3) for the layer above (channel.ts uses it for fragmentation).

export const CACHE_LINE = 64;

/** Int32 slot indices into the header (byte offset / 4). */
export const Slot = {
  WRITE: 0,
  READ: CACHE_LINE / 4,
  CAPACITY: (2 * CACHE_LINE) / 4,
  MAGIC: (2 * CACHE_LINE) / 4 + 1,
} as const;

export const HEADER_BYTES = 3 * CACHE_LINE;
/** Bytes of framing per record (the length word). */
export const FRAME_HEADER_BYTES = 4;
/** Marks an initialised header; catches two rings laid over the wrong offsets. */
export const RING_MAGIC = 0x5348524e; // "SHRN"

export const MIN_CAPACITY = 16;
export const MAX_CAPACITY = 1 << 30;

export const TAG_SHIFT = 30;
export const LENGTH_MASK = (1 << TAG_SHIFT) - 1;
export const MAX_TAG = 3;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function checkCapacity(capacity: number): void {
  if (!isPowerOfTwo(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY) {
    throw new RangeError(
      `ring capacity must be a power of two between ${MIN_CAPACITY} and ${MAX_CAPACITY} bytes, got ${capacity}`,
    );
  }
}

/** Total bytes of one ring region (header + data); always a multiple of 64. */
export function ringByteLength(capacity: number): number {
  checkCapacity(capacity);
  return HEADER_BYTES + capacity;
}

/** Bytes one record of `length` payload bytes occupies in the data area. */
export function recordBytes(length: number): number {
  return (length + FRAME_HEADER_BYTES + 3) & ~3;
}

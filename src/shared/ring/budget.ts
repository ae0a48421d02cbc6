// How big each shard-pair ring is. There is one SPSC ring per ordered pair of shards, n·(n−1) in
// all, so a fixed capacity per ring grows with the square of the shard count (16 shards at 4 MiB
// a ring: 960 MiB once traffic has touched the pages). `--ring-capacity` is therefore what ONE
// shard's inbound rings may hold together: each of its n−1 inbound rings gets that budget split
// evenly, rounded down to a power of two, so the total is at most n × budget, linear in shards.
// A floor keeps a ring big enough to batch a turn's frames; it only binds past budget / floor + 1
// shards (65 at the 4 MiB default), where the total grows by the floor per extra ring.

import { HEADER_BYTES, MIN_CAPACITY } from './layout.ts';

/** The smallest ring a budget split gives (frames larger than a ring are fragmented, never lost). */
export const MIN_PAIR_RING = 64 * 1024;

/** Capacity of each shard-pair ring when every shard's inbound rings share `budget` bytes. */
export function pairRingCapacity(budget: number, shards: number): number {
  if (shards < 2) return Math.max(MIN_PAIR_RING, floorPow2(budget));
  return Math.max(MIN_PAIR_RING, MIN_CAPACITY, floorPow2(Math.floor(budget / (shards - 1))));
}

/** Bytes of all rings of `shards` shards (headers included): what the budget costs in memory. */
export function ringBytesTotal(budget: number, shards: number): number {
  return shards * (shards - 1) * (HEADER_BYTES + pairRingCapacity(budget, shards));
}

function floorPow2(n: number): number {
  return n < 1 ? 0 : 2 ** Math.floor(Math.log2(n));
}

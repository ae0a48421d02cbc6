// How big each shard-pair ring is. There is one SPSC ring per ordered pair of shards, n·(n−1) in
// all, so a fixed capacity per ring grows with the square of the shard count (16 shards at 4 MiB
// a ring: 960 MiB once traffic has touched the pages). `--ring-capacity` is therefore what ONE
// shard's inbound rings may hold together: each of its n−1 inbound rings gets that budget split
// evenly, rounded down to a power of two, so the total is at most n × budget, linear in shards.
// A floor keeps a ring big enough to batch a turn's frames; it only binds past budget / floor + 1
// shards (65 at the 4 MiB default), where the total grows by the floor per extra ring.
//
// Beside each data ring, in the same SharedArrayBuffer, sits the pair's control ring (pair.ts):
// 1/16 of the data ring, at least CONTROL_RING_MIN. Control frames are small (routes, claims,
// barriers) and their ring is always drained, so it needs far less room; a session's state can be
// larger than it and is fragmented like any big frame. The budget counts data rings only: the
// control rings add 1/16 (more at the floor) on top.

import { MIN_CAPACITY, ringByteLength } from './layout.ts';

/** The smallest ring a budget split gives (frames larger than a ring are fragmented, never lost). */
export const MIN_PAIR_RING = 64 * 1024;
/** The smallest control ring. */
export const CONTROL_RING_MIN = 16 * 1024;

/** Capacity of each shard-pair data ring when every shard's inbound rings share `budget` bytes. */
export function pairRingCapacity(budget: number, shards: number): number {
  if (shards < 2) return Math.max(MIN_PAIR_RING, floorPow2(budget));
  return Math.max(MIN_PAIR_RING, MIN_CAPACITY, floorPow2(Math.floor(budget / (shards - 1))));
}

/** Capacity of the control ring beside a data ring of `dataCapacity` bytes. */
export function controlRingCapacity(dataCapacity: number): number {
  return Math.max(CONTROL_RING_MIN, dataCapacity / 16);
}

/** Byte offset of the control ring in a pair's buffer: right after the data ring. */
export function controlRingOffset(dataCapacity: number): number {
  return ringByteLength(dataCapacity);
}

/** Bytes of one shard pair's buffer: the data ring and its control ring, headers included. */
export function pairRingBytes(dataCapacity: number): number {
  return ringByteLength(dataCapacity) + ringByteLength(controlRingCapacity(dataCapacity));
}

/** Bytes of all rings of `shards` shards (headers included): what the budget costs in memory. */
export function ringBytesTotal(budget: number, shards: number): number {
  return shards * (shards - 1) * pairRingBytes(pairRingCapacity(budget, shards));
}

function floorPow2(n: number): number {
  return n < 1 ? 0 : 2 ** Math.floor(Math.log2(n));
}

// Public surface of the inter-thread ring.
export { CACHE_LINE, HEADER_BYTES, FRAME_HEADER_BYTES, Slot, ringByteLength, recordBytes } from './layout.ts';
export { SpscRing } from './spsc.ts';
export type { FrameHandler, TaggedFrameHandler } from './spsc.ts';
export { Doorbell } from './doorbell.ts';
export type { WakeHandler } from './doorbell.ts';
export { RingSender, RingReceiver, TAG_WHOLE, TAG_FIRST, TAG_MIDDLE, TAG_LAST } from './channel.ts';
export type { RingSenderOptions, LogicalFrameHandler } from './channel.ts';
export { pairRingCapacity, pairRingBytes, controlRingCapacity, controlRingOffset, ringBytesTotal, MIN_PAIR_RING, CONTROL_RING_MIN } from './budget.ts';
export { PairSender, PairReceiver, BEHIND_BYTES } from './pair.ts';

// Frames between shards: compact binary records written into the SPSC rings. One ByteWriter
// per thread is reused, so encoding a frame allocates nothing. Layout: [u8 type][fields...].
// Strings are u32-length-prefixed UTF-8 (see bytes.ts). Decoding lives with the consumer
// (src/worker/peers/peers.ts), which switches on the type byte.
import type { ByteWriter } from '../../shared/bytes.ts';

export const FrameType = {
  PUBLISH: 1,   // an application message for the target shard's subscribers
  ROUTE: 2,     // a shard gained its first / lost its last subscriber for a filter
  SHARE: 3,     // a shard's member count of a shared subscription group
  CLAIM: 4,     // to the home shard: a connection on shard S wants client id X
  TAKEOVER: 5,  // from the home shard to the previous owner: hand X's session to S
  SESSION: 6,   // the session state (or none) for a claim; completes the CONNECT
  RELEASE: 7,   // to the home shard: X's session ended on its owner
  OWNED: 8,     // to a restarted home shard: I own X (rebuilds its ownership map)
  SYNC_DONE: 9, // to a restarted shard: all my routes, shares and ownerships were sent
  BARRIER: 10,  // answer with BARRIER_ACK once everything before it is applied
  BARRIER_ACK: 11,
  RETAIN_SET: 12,  // to the topic's home shard: set (or clear) this retained message, in your order
  RETAIN_DONE: 13, // from the home shard: that set is applied and committed
  COMMIT_BARRIER: 14,     // answer with COMMIT_BARRIER_ACK once everything before it is applied and committed to the store
  COMMIT_BARRIER_ACK: 15,
  DIRECT: 16,      // a delivery for one moving session, forwarded by its old shard (moves.ts)
  MOVE_READY: 17,  // to the old shard: the session's routes are known everywhere; retire the ghost
  MOVE_DONE: 18,   // from the old shard: the ghost is gone; nothing more comes through it
} as const;

export const PubFlag = {
  QOS_MASK: 3,
  RETAIN: 4,
  DELIVER: 8,         // match the target's local (non-shared) subscriptions
  RETAIN_UPDATE: 16,  // update the target's retained replica (sent only by the topic's home shard)
  EXPIRES: 32,        // in the frame only (writePublish sets it): an f64 expiry follows; absent = never expires
} as const;

/**
 * `seq` numbers the publishes of the sending shard (with the ring's peer id: a message's identity).
 * The topic and payload travel as an encoded v3.1.1 QoS 0 PUBLISH (retain flag as published), so
 * the receiving shard can copy it straight from the ring to subscribers that take that form;
 * it builds a Message only for the others (src/worker/protocol/publish-view.ts reads the frame).
 */
export function writePublish(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, topic: string, origin: string,
  props: Buffer | null, payload: Buffer, groups: readonly string[] | null,
): void {
  writePublishHead(w, flags, seq, expiresAt, origin, props, groups);
  w.mqttPublish((flags & PubFlag.RETAIN) !== 0 ? 0x31 : 0x30, topic, payload);
}

/** writePublish of a message that is already an encoded v3.1.1 QoS 0 PUBLISH: `wire[off, off + len)`. */
export function writePublishWire(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, origin: string,
  props: Buffer | null, groups: readonly string[] | null, wire: Uint8Array, off: number, len: number,
): void {
  writePublishHead(w, flags, seq, expiresAt, origin, props, groups);
  w.bytes(wire, off, off + len);
}

function writePublishHead(
  w: ByteWriter, flags: number, seq: number, expiresAt: number, origin: string,
  props: Buffer | null, groups: readonly string[] | null,
): void {
  if (expiresAt !== 0) w.u8(FrameType.PUBLISH).u8(flags | PubFlag.EXPIRES).u32(seq).f64(expiresAt);
  else w.u8(FrameType.PUBLISH).u8(flags).u32(seq);
  w.str(origin).maybeBytes(props);
  const n = groups === null ? 0 : groups.length;
  w.u16(n);
  for (let i = 0; i < n; i++) w.str(groups![i]!);
}

/** Same body as PUBLISH (without groups), prefixed with who asks and the token to answer. */
export function writeRetainSet(
  w: ByteWriter, shard: number, token: number, flags: number, expiresAt: number, topic: string,
  origin: string, props: Buffer | null, payload: Buffer,
): void {
  w.u8(FrameType.RETAIN_SET).u8(shard).u32(token).u8(flags).f64(expiresAt).str(topic).str(origin).maybeBytes(props).bytes(payload);
}

export function writeRetainDone(w: ByteWriter, token: number): void {
  w.u8(FrameType.RETAIN_DONE).u32(token);
}

export function writeRoute(w: ByteWriter, add: boolean, shard: number, filter: string): void {
  w.u8(FrameType.ROUTE).u8(add ? 1 : 0).u8(shard).str(filter);
}

/** `key` is the shared subscription key (group + '\0' + filter); count is absolute, so replays are harmless. */
export function writeShare(w: ByteWriter, shard: number, key: string, count: number): void {
  w.u8(FrameType.SHARE).u8(shard).u32(count).str(key);
}

export function writeClaim(w: ByteWriter, shard: number, token: number, clientId: string, cleanStart: boolean): void {
  w.u8(FrameType.CLAIM).u8(shard).u32(token).u8(cleanStart ? 1 : 0).str(clientId);
}

/** `prevToken` names the ownership being superseded, so a shard holding several claims for X knows which. */
export function writeTakeover(w: ByteWriter, prevToken: number, newShard: number, token: number, clientId: string, cleanStart: boolean): void {
  w.u8(FrameType.TAKEOVER).u32(prevToken).u8(newShard).u32(token).u8(cleanStart ? 1 : 0).str(clientId);
}

/**
 * `state` is an encoded session (session-codec) or null when there is none. `ghostShard` (255:
 * none) keeps forwarding the session's deliveries under `ghostToken` until told MOVE_READY.
 */
export function writeSession(w: ByteWriter, token: number, clientId: string, state: Buffer | null, ghostShard: number, ghostToken: number): void {
  w.u8(FrameType.SESSION).u32(token).str(clientId).maybeBytes(state).u8(ghostShard).u32(ghostToken);
}

/** `src`/`seq` identify the message (dedupe at the new owner); `subIds` as for the delivery. */
export function writeDirect(
  w: ByteWriter, token: number, clientId: string, qos: number, retain: boolean, subIds: readonly number[] | null,
  src: number, seq: number, msgFlags: number, expiresAt: number, topic: string, origin: string, props: Buffer | null, payload: Buffer,
): void {
  w.u8(FrameType.DIRECT).u32(token).str(clientId).u8(qos | (retain ? 4 : 0));
  const n = subIds === null ? 0 : subIds.length;
  w.u16(n);
  for (let i = 0; i < n; i++) w.u32(subIds![i]!);
  w.u8(src & 0xff).u32(seq).u8(msgFlags).f64(expiresAt).str(topic).str(origin).maybeBytes(props).bytes(payload);
}

export function writeMove(w: ByteWriter, done: boolean, token: number, clientId: string): void {
  w.u8(done ? FrameType.MOVE_DONE : FrameType.MOVE_READY).u32(token).str(clientId);
}

export function writeRelease(w: ByteWriter, shard: number, token: number, clientId: string): void {
  w.u8(FrameType.RELEASE).u8(shard).u32(token).str(clientId);
}

export function writeOwned(w: ByteWriter, shard: number, token: number, clientId: string): void {
  w.u8(FrameType.OWNED).u8(shard).u32(token).str(clientId);
}

export function writeSyncDone(w: ByteWriter, shard: number): void {
  w.u8(FrameType.SYNC_DONE).u8(shard);
}

/** Rings are FIFO: the ack proves every frame sent before the barrier has been handled. */
export function writeBarrier(w: ByteWriter, ack: boolean, shard: number, token: number): void {
  w.u8(ack ? FrameType.BARRIER_ACK : FrameType.BARRIER).u8(shard).u32(token);
}

/**
 * Like a barrier, but answered only after the target's store writes for the frames before it have
 * committed. `flag` on a barrier: 1 = a chained one (durability.ts); on an answer: 1 = lost (a
 * shard the answer depended on crashed before it committed).
 */
export function writeCommitBarrier(w: ByteWriter, ack: boolean, shard: number, token: number, flag = 0): void {
  w.u8(ack ? FrameType.COMMIT_BARRIER_ACK : FrameType.COMMIT_BARRIER).u8(shard).u32(token).u8(flag);
}

/** The home shard of a client id (or of a retained topic): FNV-1a over UTF-16 units, mod shard count. Stable across restarts. */
export function homeShard(clientId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

// Frames between shards: compact binary records written into the SPSC rings. One ByteWriter
// per thread is reused, so encoding a frame allocates nothing. Layout: [u8 type][fields...].
// Strings are u32-length-prefixed UTF-8 (see bytes.ts). Every frame family has its encoders and
// decoders side by side, in the room that owns it; the numbers are all here, so none collide:
// - PUBLISH: protocol/publish-view.ts (read in place by PublishView, the hot path)
// - ROUTE, SHARE, WITHDRAW, RETAIN_SET, RETAIN_DONE: routing/frames.ts
// - CLAIM, TAKEOVER, SESSION, RELEASE, OWNED, DIRECT, MOVE_READY, MOVE_DONE: session/frames.ts
// - BARRIER, BARRIER_ACK, COMMIT_BARRIER, COMMIT_BARRIER_ACK, SYNC_DONE: here
// - NODE_COMMIT, NODE_MARK, NODE_PUBLISH: worker/cluster (between nodes)
// A decoder reads the fields after the type byte and hands them to its receiver's method (no
// object per frame); peers/dispatch.ts maps each type to its decoder and receiver.
import type { ByteReader, ByteWriter } from '../../shared/bytes.ts';

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
  BARRIER_ACK: 11, // ... which vouches for the data before it in its ring (waits behind it when held)
  RETAIN_SET: 12,  // to the topic's home shard: set (or clear) this retained message, in your order
  RETAIN_DONE: 13, // from the home shard: that set is applied and committed
  COMMIT_BARRIER: 14,     // answer with COMMIT_BARRIER_ACK once everything before it is applied and committed to the store
  COMMIT_BARRIER_ACK: 15,
  DIRECT: 16,      // a delivery for one moving session, forwarded by its old shard (moves.ts)
  MOVE_READY: 17,  // to the old shard: the session's routes are known everywhere; retire the ghost
  MOVE_DONE: 18,   // from the old shard: the ghost is gone; nothing more comes through it
  NODE_COMMIT: 19, // over NATS only, from another node (worker/cluster): answer once what it sent before is committed
  HOLD: 20,    // the ring from you is held for a subscriber that is behind: your publishers wait (peers.ts)
  RESUME: 21,  // ... no longer: they may go on
  CONTROL_BARRIER: 22,     // a BARRIER whose answer vouches only for control frames (route updates)
  CONTROL_BARRIER_ACK: 23, // ... so it does not wait behind data in a held ring
  NODE_MARK: 24, // a sending shard's marker for a session moving between nodes, after its last message that went only to the old node (worker/cluster/node-moves.ts); over NATS and relayed in rings, behind the data
  NODE_PUBLISH: 25, // over NATS only: a PUBLISH frame behind its sender's node key and shard (worker/cluster/frames.ts)
  WITHDRAW: 26, // a shard's subscribers on a filter would only drop one QoS class: do not send it such messages, count the drops (or: send again)
} as const;

/**
 * The control frames: written into the pair's control ring (shared/ring/pair.ts), which is
 * always drained, and allowed to pass data that a held data ring keeps back (peers.ts). None of
 * them depends on the data sent before it, so a subscriber that is behind does not delay
 * takeovers, sessions, route, withdraw and share updates, ownership lists, barrier requests (an answer
 * vouches for what is before it in the ring it goes back in, not for what was before the
 * request), control barriers' answers, or the answers to this shard's own commit barriers and
 * retained sets (those vouch for what this shard sent, not for what is in the ring). Unless the
 * data ring is held, a control frame is still handled after the data sent before it, and data
 * never before the control frames sent before it (a SESSION before the DIRECTs for it; a route
 * update before what it routed). All the others go in the data ring, in order with the data:
 * PUBLISH and DIRECT are the data, and BARRIER_ACK, COMMIT_BARRIER, MOVE_READY, MOVE_DONE,
 * RETAIN_SET and NODE_MARK must not overtake it (the answer vouches for every frame before it; a
 * ghost retires only after what was forwarded to it; a retained set keeps its place among the
 * publishes; a node marker comes after the last message to the old node).
 */
export const AT_ONCE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const f of [FrameType.ROUTE, FrameType.SHARE, FrameType.WITHDRAW, FrameType.CLAIM, FrameType.TAKEOVER, FrameType.SESSION, FrameType.RELEASE, FrameType.OWNED,
    FrameType.SYNC_DONE, FrameType.RETAIN_DONE, FrameType.COMMIT_BARRIER_ACK, FrameType.HOLD, FrameType.RESUME,
    FrameType.BARRIER, FrameType.CONTROL_BARRIER, FrameType.CONTROL_BARRIER_ACK]) t[f] = 1;
  return t;
})();

export function writeHold(w: ByteWriter, held: boolean): void {
  w.u8(held ? FrameType.HOLD : FrameType.RESUME);
}

/**
 * Rings are FIFO: the ack proves every frame its sender sent before it has been handled; a
 * control barrier's ack (`data` false) only every control frame (AT_ONCE), data may still wait
 * behind a held ring.
 */
export function writeBarrier(w: ByteWriter, ack: boolean, shard: number, token: number, data: boolean): void {
  w.u8(data ? (ack ? FrameType.BARRIER_ACK : FrameType.BARRIER) : (ack ? FrameType.CONTROL_BARRIER_ACK : FrameType.CONTROL_BARRIER)).u8(shard).u32(token);
}

export function readBarrier(r: ByteReader, ack: boolean, data: boolean, to: { onBarrier(ack: boolean, from: number, token: number, data: boolean): void }): void {
  const shard = r.u8();
  to.onBarrier(ack, shard, r.u32(), data);
}

/**
 * Like a barrier, but answered only after the target's store writes for the frames before it have
 * committed. `flag` on a barrier: 1 = a chained one (durability.ts); on an answer: 1 = lost (a
 * shard the answer depended on crashed before it committed).
 */
export function writeCommitBarrier(w: ByteWriter, ack: boolean, shard: number, token: number, flag = 0): void {
  w.u8(ack ? FrameType.COMMIT_BARRIER_ACK : FrameType.COMMIT_BARRIER).u8(shard).u32(token).u8(flag);
}

export interface CommitBarrierReceiver {
  onCommitBarrier(from: number, token: number, chained: boolean): void;
  onCommitBarrierAck(token: number, lost: boolean): void;
}

export function readCommitBarrier(r: ByteReader, ack: boolean, to: CommitBarrierReceiver): void {
  const shard = r.u8();
  const token = r.u32();
  const flag = r.u8() === 1;
  if (ack) to.onCommitBarrierAck(token, flag);
  else to.onCommitBarrier(shard, token, flag);
}

export function writeSyncDone(w: ByteWriter, shard: number): void {
  w.u8(FrameType.SYNC_DONE).u8(shard);
}

/** The sender's id is in the frame; receivers use the ring's (`from`), which is the same. */
export function readSyncDone(r: ByteReader): number { return r.u8(); }

/** The home shard of a client id (or of a retained topic): FNV-1a over UTF-16 units, mod shard count. Stable across restarts. */
export function homeShard(clientId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

// The cluster room's frame of its own (the number is in peers/frames.ts): a sending shard's
// marker for a session moving between nodes (node-moves.ts). It travels over NATS on the data
// subject from the sender to the node of one end of the move, and on in a ring to that end's
// shard, always behind the messages the sender sent before it on the same way.
import type { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { FrameType } from '../peers/frames.ts';
import { fnv1a } from '../../shared/fnv.ts';

/** Which end of the move a marker is for. */
export const MoveSide = { GHOST: 0, ARRIVAL: 1 } as const;
export type MoveSideValue = typeof MoveSide[keyof typeof MoveSide];

export interface MarkReceiver {
  /** `sender` ("node.shard") has sent, before this, everything of its own that went only to the old node. */
  onMark(side: MoveSideValue, shard: number, token: number, clientId: string, sender: string): void;
}

/** `shard`/`token`: the end's shard and the token it knows the move by. */
export function writeNodeMark(w: ByteWriter, side: MoveSideValue, shard: number, token: number, clientId: string, sender: string): void {
  w.u8(FrameType.NODE_MARK).u8(side).u8(shard).u32(token).str(clientId).str(sender);
}

/** Reads the frame after its type byte. */
export function readNodeMark(r: ByteReader, to: MarkReceiver): void {
  const side = r.u8() === MoveSide.GHOST ? MoveSide.GHOST : MoveSide.ARRIVAL;
  const shard = r.u8();
  const token = r.u32();
  const clientId = r.str();
  to.onMark(side, shard, token, clientId, r.str());
}

// A message between nodes: [u8 NODE_PUBLISH][u32 node key][u8 shard][the PUBLISH frame, its
// type byte included]. The head names the sender as numbers, so that the receiving shard finds
// its dedup state (link.ts, lastSeq) without having nats.js decode the subject of every message
// (a string per frame). The node key is nodeKey(node id); two node ids of one cluster with the
// same key are found when both are known (link.ts, slotFor) and then keyed by subject instead.
// A receiver still takes a bare PUBLISH (a node of an older build, mid rolling upgrade), keyed
// by subject; an older receiver drops NODE_PUBLISH with a warning, so upgrade receivers first.
/** The PUBLISH frame's flags byte, where a resend sets PubFlag.RESENT in place. */
export const NODE_PUBLISH_FLAGS_AT = 7;
export const NODE_PUBLISH_HEAD = 6;

/** A node id's key in NODE_PUBLISH (30 bits: a small integer in V8, no number allocated per read). */
export function nodeKey(node: string): number { return fnv1a(node) >>> 2; }

export function writeNodePublishHead(w: ByteWriter, key: number, shard: number): void {
  w.u8(FrameType.NODE_PUBLISH).u32(key).u8(shard);
}

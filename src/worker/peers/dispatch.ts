// The frame table: each frame type from a peer shard to its decoder (beside its encoder, in the
// room that owns the frame) and the part that receives it. Built once per shard; a frame costs
// one array lookup and the decoder's call.
import type { ByteReader } from '../../shared/bytes.ts';
import type { ShardContext } from '../context.ts';
import type { Durability } from '../durable/durability.ts';
import { PubFlag, PublishView } from '../protocol/publish-view.ts';
import type { Delivery } from '../routing/delivery.ts';
import { readRetainDone, readRetainSet, readRoute, readShare, readWithdraw } from '../routing/frames.ts';
import type { RetainedSync } from '../routing/retain-sync.ts';
import type { Routing } from '../routing/routing.ts';
import { readClaim, readDirect, readMove, readOwned, readRelease, readSession, readTakeover } from '../session/frames.ts';
import type { Moves } from '../session/moves.ts';
import type { Registry } from '../session/registry.ts';
import { readNodeMark } from '../cluster/frames.ts';
import { FrameType, readBarrier, readCommitBarrier, readSyncDone } from './frames.ts';
import type { Peers } from './peers.ts';

export type FrameHandler = (r: ByteReader, from: number) => void;

/** The parts that receive frames. */
export interface FrameReceivers {
  readonly peers: Peers;
  readonly routing: Routing;
  readonly delivery: Delivery;
  readonly registry: Registry;
  readonly retainSync: RetainedSync;
  readonly moves: Moves;
  readonly durability: Durability;
}

/** Fills `table` (indexed by the frame's type byte, after which the decoders read). */
export function fillFrameTable(table: FrameHandler[], ctx: ShardContext, p: FrameReceivers): void {
  const unknown: FrameHandler = (_r, from) => ctx.log.error({ from }, 'unknown frame type from a peer shard');
  for (let i = 0; i < 256; i++) table[i] = unknown;
  const { peers, routing, delivery, registry, retainSync, moves, durability } = p;
  /** The PUBLISH frame being handled (read in place from the ring). */
  const view = new PublishView();
  table[FrameType.PUBLISH] = (r, from) => {
    const f = view.read(r, from);
    const now = Date.now();
    const flags = f.flags;
    // An expired retained update still applies: it must not leave an older value in place.
    if (f.expiresAt !== 0 && f.expiresAt <= now && (flags & PubFlag.RETAIN_UPDATE) === 0) return;
    if ((flags & (PubFlag.RETAIN_UPDATE | PubFlag.DELIVER)) === PubFlag.DELIVER && f.groups === null) {
      delivery.deliverView(f, now);
      return;
    }
    routing.fromPeer(f.toMessage(), flags, f.groups, now);
  };
  table[FrameType.ROUTE] = (r) => readRoute(r, routing);
  table[FrameType.SHARE] = (r) => readShare(r, routing);
  table[FrameType.WITHDRAW] = (r) => readWithdraw(r, routing);
  table[FrameType.RETAIN_SET] = (r) => readRetainSet(r, retainSync);
  table[FrameType.RETAIN_DONE] = (r) => readRetainDone(r, retainSync);
  table[FrameType.CLAIM] = (r) => readClaim(r, registry);
  table[FrameType.TAKEOVER] = (r) => readTakeover(r, registry);
  table[FrameType.SESSION] = (r) => readSession(r, registry);
  table[FrameType.RELEASE] = (r) => readRelease(r, registry);
  table[FrameType.OWNED] = (r) => readOwned(r, registry);
  table[FrameType.DIRECT] = (r) => readDirect(r, moves);
  table[FrameType.NODE_MARK] = (r) => { if (moves.nodes !== null) readNodeMark(r, moves.nodes); };
  table[FrameType.MOVE_READY] = (r) => readMove(r, false, moves);
  table[FrameType.MOVE_DONE] = (r) => readMove(r, true, moves);
  table[FrameType.BARRIER] = (r) => readBarrier(r, false, true, peers);
  table[FrameType.BARRIER_ACK] = (r) => readBarrier(r, true, true, peers);
  table[FrameType.CONTROL_BARRIER] = (r) => readBarrier(r, false, false, peers);
  table[FrameType.CONTROL_BARRIER_ACK] = (r) => readBarrier(r, true, false, peers);
  table[FrameType.COMMIT_BARRIER] = (r) => readCommitBarrier(r, false, durability);
  table[FrameType.COMMIT_BARRIER_ACK] = (r) => readCommitBarrier(r, true, durability);
  table[FrameType.HOLD] = (_r, from) => peers.onHold(from, true);
  table[FrameType.RESUME] = (_r, from) => peers.onHold(from, false);
  table[FrameType.SYNC_DONE] = (r, from) => {
    readSyncDone(r);
    // From a restarted peer: its sessions are back. Otherwise: a peer's ownership list is complete.
    if (!routing.peerReady(from)) registry.onSyncDone();
  };
}

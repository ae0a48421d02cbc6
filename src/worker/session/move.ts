// One session's move between shards, as either end keeps it (the protocol: moves.ts).
import type { Message } from './message.ts';
import type { NodeMove } from '../cluster/node-moves.ts';

/** lifecycle.detach's `ghostTo` for a session that leaves for another node as a ghost (worker/cluster/node-moves.ts). */
export const NODE_GHOST = -3;

/** A delivery an arriving session parked until its move is done. */
export interface Parked { msg: Message; qos: 0 | 1 | 2; retain: boolean; subIds: number[] | null }

/**
 * The state of a session moving between shards (takeover across shards). On the old shard the
 * session stays in the routing tables as a *ghost* that forwards each delivery to the new shard
 * (DIRECT); on the new shard it is *arriving*: deliveries that come through its own fresh routes
 * are parked, forwarded ones are delivered at once.
 */
export class Move {
  /** Ghost side: the shard and claim token deliveries go to (-1: not a ghost). */
  to = -1;
  toToken = 0;
  /** Ghost side: the new owner has said MOVE_READY. */
  ready = false;
  /** Arriving side: the ghost's shard and the token it forwards under (-1: not (or no longer) arriving). */
  from = -1;
  fromToken = 0;
  /**
   * Per publishing shard, the highest sequence number forwarded by the ghost. A publisher's
   * messages reach the ghost as a prefix of its stream, so a copy that comes through our own
   * routes with a sequence number at or below the floor was already delivered: a duplicate.
   */
  floor: number[] | null = null;
  parked: Parked[] = [];
  /**
   * Ghost side: the ghost counts as a persistent session of this shard (Stat.PERSISTENT_SESSIONS),
   * so that publishers still send this shard commit barriers while it forwards to the new owner.
   */
  counted = false;
  /** Set instead when the session moves between nodes (worker/cluster/node-moves.ts has that protocol). */
  node: NodeMove | null = null;
}

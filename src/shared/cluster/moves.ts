// A session moving between nodes (docs/cluster.md, "Messages on their way during a move"): the
// names main and the shards use for one move. Its old end is a ghost on the old node's shard
// that owned the session; its new end the shard of the new node that adopted it.

/** One end of a move: the node, its shard, and the claim token that shard knows the move by. */
export interface MoveEnd { node: string; shard: number; token: number }

export interface NodeMoveId { clientId: string; ghost: MoveEnd; arrival: MoveEnd }

/** The shards asked to put their marker into their streams: shard count per node id. */
export type MoveSenders = Record<string, number>;

/** A sending shard's name in markers and in annotated frames: "node.shard". */
export function senderKey(node: string, shard: number): string { return `${node}.${shard}`; }

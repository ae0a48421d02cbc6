// The session room's frames between shards (encoders and decoders side by side; numbers in
// peers/frames.ts): client-id ownership and takeover (registry.ts), and the deliveries and
// hand-shakes of a session moving between shards (moves.ts).
import type { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { FrameType } from '../peers/frames.ts';
import { readMessageBody, type Message } from './message.ts';

/** What the registry receives (registry.ts has the meaning of each). */
export interface OwnershipReceiver {
  handleClaim(clientId: string, from: number, token: number, cleanStart: boolean): void;
  handleTakeover(clientId: string, prevToken: number, newShard: number, token: number, cleanStart: boolean, remote: boolean): void;
  handleSession(token: number, clientId: string, state: Buffer | null, ghost: number, ghostToken: number, ghostNode?: string | null): void;
  handleRelease(clientId: string, from: number, token: number): void;
  handleOwned(clientId: string, from: number, token: number): void;
}

export function writeClaim(w: ByteWriter, shard: number, token: number, clientId: string, cleanStart: boolean): void {
  w.u8(FrameType.CLAIM).u8(shard).u32(token).u8(cleanStart ? 1 : 0).str(clientId);
}

export function readClaim(r: ByteReader, to: OwnershipReceiver): void {
  const shard = r.u8();
  const token = r.u32();
  const clean = r.u8() === 1;
  to.handleClaim(r.str(), shard, token, clean);
}

/**
 * `prevToken` names the ownership being superseded, so a shard holding several claims for X knows
 * which. `remote`: the claim is another node's (the session leaves the node: no ghost, and this
 * node's stored copy goes).
 */
export function writeTakeover(w: ByteWriter, prevToken: number, newShard: number, token: number, clientId: string, cleanStart: boolean, remote = false): void {
  w.u8(FrameType.TAKEOVER).u32(prevToken).u8(newShard).u32(token).u8((cleanStart ? 1 : 0) | (remote ? 2 : 0)).str(clientId);
}

export function readTakeover(r: ByteReader, to: OwnershipReceiver): void {
  const prev = r.u32();
  const shard = r.u8();
  const token = r.u32();
  const flags = r.u8();
  to.handleTakeover(r.str(), prev, shard, token, (flags & 1) !== 0, (flags & 2) !== 0);
}

/** In SESSION's ghost field: the claim is refused (the cluster could not give this node the id: 0x88). */
export const CLAIM_REFUSED = -2;

/**
 * `state` is an encoded session (session-codec) or null when there is none. `ghostShard` (-1:
 * none, 255 on the wire; CLAIM_REFUSED, 254) keeps forwarding the session's deliveries under `ghostToken` until told MOVE_READY.
 * `ghostNode`: the ghost is on that node (a move between nodes, worker/cluster/node-moves.ts; 253 on the wire, then the shard and the node).
 */
export function writeSession(w: ByteWriter, token: number, clientId: string, state: Buffer | null, ghostShard: number, ghostToken: number, ghostNode: string | null = null): void {
  w.u8(FrameType.SESSION).u32(token).str(clientId).maybeBytes(state);
  if (ghostNode !== null) { w.u8(253).u32(ghostToken).u8(ghostShard).str(ghostNode); return; }
  w.u8(ghostShard === CLAIM_REFUSED ? 254 : ghostShard < 0 ? 255 : ghostShard).u32(ghostToken);
}

export function readSession(r: ByteReader, to: OwnershipReceiver): void {
  const token = r.u32();
  const id = r.str();
  const state = r.maybeBytes();
  const ghost = r.u8();
  const ghostToken = r.u32();
  if (ghost === 253) { const shard = r.u8(); to.handleSession(token, id, state, shard, ghostToken, r.str()); return; }
  to.handleSession(token, id, state, ghost === 255 ? -1 : ghost === 254 ? CLAIM_REFUSED : ghost, ghostToken);
}

export function writeRelease(w: ByteWriter, shard: number, token: number, clientId: string): void {
  w.u8(FrameType.RELEASE).u8(shard).u32(token).str(clientId);
}

export function readRelease(r: ByteReader, to: OwnershipReceiver): void {
  const shard = r.u8();
  const token = r.u32();
  to.handleRelease(r.str(), shard, token);
}

export function writeOwned(w: ByteWriter, shard: number, token: number, clientId: string): void {
  w.u8(FrameType.OWNED).u8(shard).u32(token).str(clientId);
}

export function readOwned(r: ByteReader, to: OwnershipReceiver): void {
  const shard = r.u8();
  const token = r.u32();
  to.handleOwned(r.str(), shard, token);
}

/** What moves.ts receives. */
export interface MoveReceiver {
  onDirect(token: number, clientId: string, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null, msg: Message): void;
  onReady(token: number, clientId: string): void;
  onDone(token: number, clientId: string): void;
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

export function readDirect(r: ByteReader, to: Pick<MoveReceiver, 'onDirect'>): void {
  const token = r.u32();
  const clientId = r.str();
  const f = r.u8();
  const n = r.u16();
  let subIds: number[] | null = null;
  if (n > 0) { subIds = []; for (let i = 0; i < n; i++) subIds.push(r.u32()); }
  const src = r.u8();
  const seq = r.u32();
  const msg = readMessageBody(r, r.u8());
  msg.src = src === 255 ? -1 : src;
  msg.seq = seq;
  to.onDirect(token, clientId, (f & 3) as 0 | 1 | 2, (f & 4) !== 0, subIds, msg);
}

export function writeMove(w: ByteWriter, done: boolean, token: number, clientId: string): void {
  w.u8(done ? FrameType.MOVE_DONE : FrameType.MOVE_READY).u32(token).str(clientId);
}

export function readMove(r: ByteReader, done: boolean, to: MoveReceiver): void {
  const token = r.u32();
  if (done) to.onDone(token, r.str());
  else to.onReady(token, r.str());
}

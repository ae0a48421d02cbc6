import { homeShard, writeClaim, writeOwned, writeRelease, writeSession, writeSyncDone, writeTakeover } from '../peers/frames.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { encodeSession } from '../durable/session-codec.ts';
import type { Session } from './session.ts';
import type { Shard } from '../shard.ts';

interface Owner { shard: number; token: number }

/**
 * Client-id ownership across shards. Each client id has a home shard (hash mod N) that records
 * which shard owns its session; a CONNECT anywhere becomes a claim at the home shard, which
 * asks the previous owner to hand the session over. Claims for one id are ordered by the home
 * shard, so two racing CONNECTs end with exactly one winner (the later one) [MQTT-3.1.4-3].
 */
export class Registry {
  private readonly shard: Shard;
  /** For client ids homed here: who owns the session now. */
  readonly owners = new Map<string, Owner>();
  /** Connections of this shard waiting for their session, by claim token. */
  private readonly pending = new Map<number, Connection>();
  /**
   * A newer claim superseded a pending claim of ours (by its token): where that claim's session
   * must go once it arrives. Keyed by token, not client id: one shard may hold several pending
   * claims for one id when CONNECTs race, and each is superseded exactly once.
   */
  private readonly redirect = new Map<number, Owner & { cleanStart: boolean }>();
  private nextToken = 1;
  /** Claims that reached this home shard while it was rebuilding its ownership map after a restart. */
  private deferred: Array<{ clientId: string; from: number; token: number; cleanStart: boolean }> = [];

  constructor(shard: Shard) { this.shard = shard; }

  home(clientId: string): number { return homeShard(clientId, this.shard.count); }

  /** Starts a CONNECT's claim; the connection completes when handleSession runs for its token. */
  claim(conn: Connection): void {
    const sh = this.shard;
    conn.token = this.allocateToken();
    this.pending.set(conn.token, conn);
    const home = this.home(conn.clientId);
    if (home === sh.id) this.handleClaim(conn.clientId, sh.id, conn.token, conn.cleanStart);
    else { writeClaim(sh.peers.writer(), sh.id, conn.token, conn.clientId, conn.cleanStart); sh.peers.commit(home); }
  }

  /** At the home shard. */
  handleClaim(clientId: string, from: number, token: number, cleanStart: boolean): void {
    if (this.shard.syncing) { this.deferred.push({ clientId, from, token, cleanStart }); return; }
    const prev = this.owners.get(clientId);
    this.owners.set(clientId, { shard: from, token });
    if (prev === undefined) this.sendSession(from, token, clientId, null);
    else this.sendTakeover(prev, clientId, from, token, cleanStart);
  }

  private sendTakeover(prev: Owner, clientId: string, newShard: number, token: number, cleanStart: boolean): void {
    const sh = this.shard;
    if (prev.shard === sh.id) this.handleTakeover(clientId, prev.token, newShard, token, cleanStart);
    else { writeTakeover(sh.peers.writer(), prev.token, newShard, token, clientId, cleanStart); sh.peers.commit(prev.shard); }
  }

  private sendSession(to: number, token: number, clientId: string, state: Buffer | null, ghost = -1, ghostToken = 0): void {
    const sh = this.shard;
    if (to === sh.id) this.handleSession(token, clientId, state, ghost, ghostToken);
    else { writeSession(sh.peers.writer(), token, clientId, state, ghost < 0 ? 255 : ghost, ghostToken); sh.peers.commit(to); }
  }

  /** At the previous owner (the ownership `prevToken`): give the session (if any) to the new owner. */
  handleTakeover(clientId: string, prevToken: number, newShard: number, token: number, cleanStart: boolean): void {
    const sh = this.shard;
    const s = sh.sessions.get(clientId);
    if (s !== undefined && s.token === prevToken) {
      // Moving to another shard, the session's routes stay here as a ghost that forwards what
      // is still on its way here, until the new owner's routes are known everywhere (moves.ts).
      const ghost = !cleanStart && newShard !== sh.id;
      sh.detachSession(s, Reason.SESSION_TAKEN_OVER, cleanStart, ghost ? newShard : -1, token);
      if (cleanStart && newShard !== sh.id && s.persistent && sh.durability.enabled) {
        // The new owner deletes the stored session (clean start) in its own transaction: only
        // after ours with this session's last writes has committed, or those could land after
        // the delete and leave a stale queue behind. No ghost on a clean start, so no DIRECT
        // frame can overtake the late SESSION.
        const hand = (): void => this.sendSession(newShard, token, clientId, null);
        sh.store.flushed().then(hand, hand);
        return;
      }
      this.sendSession(newShard, token, clientId, cleanStart ? null : encodeSession(s), ghost ? sh.id : -1, token);
      return;
    }
    // That CONNECT of ours is still waiting: its session will arrive here; pass it on then.
    if (this.pending.has(prevToken)) {
      this.redirect.set(prevToken, { shard: newShard, token, cleanStart });
      return;
    }
    // The superseded session has already ended here (its RELEASE crossed this claim).
    this.sendSession(newShard, token, clientId, null);
  }

  /** At the claiming shard: the session (or none) has arrived. */
  handleSession(token: number, clientId: string, state: Buffer | null, ghost = -1, ghostToken = 0): void {
    const sh = this.shard;
    const conn = this.pending.get(token);
    this.pending.delete(token);
    const to = this.redirect.get(token);
    if (to !== undefined) {
      this.redirect.delete(token);
      if (conn !== undefined && conn.state !== ConnState.CLOSED) conn.disconnect(Reason.SESSION_TAKEN_OVER);
      // The ghost forwards to our token: pass its traffic on to the claim that superseded ours.
      if (ghost >= 0) sh.moves.relay(token, to.shard, to.token);
      this.sendSession(to.shard, to.token, clientId, to.cleanStart ? null : state, ghost, ghostToken);
      return;
    }
    let s: Session | undefined;
    if (conn !== undefined && conn.state !== ConnState.CLOSED) {
      sh.completeConnect(conn, state);
      if (!conn.cleanStart) s = conn.session ?? undefined;
    } else if (conn === undefined && sh.sessions.get(clientId)?.token === token) {
      // A late hand-over to a claim that already completed with a fresh session (after a shard
      // restart, see handleOwned): the connected session wins; the stale state is dropped.
    } else {
      // The client went away while waiting; keep a persistent session it had, offline.
      sh.adoptOffline(clientId, token, state);
      s = sh.sessions.get(clientId);
    }
    if (ghost < 0) return;
    if (state !== null && s !== undefined && s.token === token) sh.moves.arrive(s, ghost, ghostToken);
    else sh.moves.abandon(ghost, ghostToken, clientId);
  }

  /** The session owned here under `token` ended: tell its home shard. */
  release(clientId: string, token: number): void {
    const sh = this.shard;
    const home = this.home(clientId);
    if (home === sh.id) this.handleRelease(clientId, sh.id, token);
    else { writeRelease(sh.peers.writer(), sh.id, token, clientId); sh.peers.commit(home); }
  }

  handleRelease(clientId: string, from: number, token: number): void {
    const cur = this.owners.get(clientId);
    if (cur !== undefined && cur.shard === from && cur.token === token) this.owners.delete(clientId);
  }

  /** A peer restarted: drop what pointed at it, and tell it which of its home ids we own. */
  peerRestarted(peer: number): void {
    const sh = this.shard;
    for (const [id, o] of this.owners) if (o.shard === peer) this.owners.delete(id);
    // Claims we sent to its old rings may never have been read: ask its new incarnation (after
    // the ownership list below, so it answers them with its map complete). A claim it did
    // answer before dying is no longer pending here.
    const again: Connection[] = [];
    for (const conn of this.pending.values()) if (this.home(conn.clientId) === peer) again.push(conn);
    for (const [id, s] of sh.sessions) {
      if (this.home(id) === peer) { writeOwned(sh.peers.writer(), sh.id, s.token, id); sh.peers.commit(peer); }
    }
    writeSyncDone(sh.peers.writer(), sh.id);
    sh.peers.commit(peer);
    for (const conn of again) { writeClaim(sh.peers.writer(), sh.id, conn.token, conn.clientId, conn.cleanStart); sh.peers.commit(peer); }
  }

  /** At a restarted home shard: a peer owns `clientId`. A newer local claim wins if there is one. */
  handleOwned(clientId: string, from: number, token: number): void {
    const cur = this.owners.get(clientId);
    if (cur === undefined) { this.owners.set(clientId, { shard: from, token }); return; }
    if (cur.shard !== from) {
      // Someone connected after the restart and before this news: the older owner hands over.
      this.sendTakeover({ shard: from, token }, clientId, cur.shard, cur.token, false);
    }
  }

  /** The ownership map is complete again: the claims that waited go through, in arrival order. */
  flushDeferred(): void {
    const d = this.deferred;
    this.deferred = [];
    for (const c of d) this.handleClaim(c.clientId, c.from, c.token, c.cleanStart);
  }

  /** Registers a session that this (home) shard loaded from the store. */
  own(clientId: string, token: number): void { this.owners.set(clientId, { shard: this.shard.id, token }); }
  allocateToken(): number { return this.nextToken = (this.nextToken + 1) >>> 0 || 1; }
}

import { homeShard, writeSyncDone } from '../peers/frames.ts';
import { CLAIM_REFUSED, writeClaim, writeOwned, writeRelease, writeSession, writeTakeover, type OwnershipReceiver } from './frames.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { encodeSession } from '../durable/session-codec.ts';
import type { Store } from '../../shared/store/index.ts';
import type { ShardContext } from '../context.ts';
import type { PeerLink } from '../peers/peers.ts';
import type { Moves } from './moves.ts';
import type { HandedOver, Ownership } from '../cluster/ownership.ts';
import type { NodeMoves } from '../cluster/node-moves.ts';
import type { MoveEnd } from '../../shared/cluster/moves.ts';
import { NODE_GHOST } from './move.ts';
import type { Session } from './session.ts';

interface Owner { shard: number; token: number }

/** How a claim ends at the claiming shard: with the session's state, or none; or refused with `refused` (a reason code). */
export type ClaimDone = (conn: Connection, state: Buffer | null, refused?: number) => void;

/** What the registry asks of the session lifecycle (lifecycle.ts). */
export interface RegistryHost {
  /** Unhook a session taken over (see SessionLifecycle.detach). */
  detach(s: Session, reason: number, cleanStart: boolean, ghostTo: number, ghostToken: number): void;
  /** A claim completed for a connection that is gone: keep its persistent session offline. */
  adoptOffline(clientId: string, token: number, state: Buffer | null): void;
  /** The persistent sessions homed here that nobody owns: take them from the store (but those in `skip`). */
  loadHomed(skip: ReadonlySet<string>): void;
  /** The client ids of the stored sessions homed here. */
  storedHomed(): string[];
  /** The session of `clientId` lives on elsewhere (another node): this node's stored copy goes. */
  dropStored(clientId: string): void;
}

const NO_HOST: RegistryHost = { detach: () => {}, adoptOffline: () => {}, loadHomed: () => {}, storedHomed: () => [], dropStored: () => {} };
const NONE: ReadonlySet<string> = new Set();

/** How long a restarted shard waits for its peers' ownership lists. */
const SYNC_TIMEOUT_MS = 5000;

/**
 * Client-id ownership across shards. Each client id has a home shard (hash mod N) that records
 * which shard owns its session; a CONNECT anywhere becomes a claim at the home shard, which
 * asks the previous owner to hand the session over. Claims for one id are ordered by the home
 * shard, so two racing CONNECTs end with exactly one winner (the later one) [MQTT-3.1.4-3].
 */
export class Registry implements OwnershipReceiver {
  private readonly shard: ShardContext;
  private readonly peers: PeerLink;
  private readonly store: Pick<Store, 'persistence' | 'flushed'>;
  /** The sessions this shard owns. */
  private readonly sessions: ReadonlyMap<string, Session>;
  private readonly moves: Pick<Moves, 'relay' | 'arrive' | 'abandon'>;
  /** Set by the wiring (the lifecycle needs the registry too). */
  host: RegistryHost = NO_HOST;
  /** For client ids homed here: who owns the session now. */
  readonly owners = new Map<string, Owner>();
  /** Connections of this shard waiting for their session, by claim token. */
  private readonly pending = new Map<number, { conn: Connection; done: ClaimDone }>();
  /**
   * A newer claim superseded a pending claim of ours (by its token): where that claim's session
   * must go once it arrives. Keyed by token, not client id: one shard may hold several pending
   * claims for one id when CONNECTs race, and each is superseded exactly once.
   */
  private readonly redirect = new Map<number, Owner & { cleanStart: boolean }>();
  private nextToken = 1;
  /** Claims that reached this home shard while it was rebuilding its ownership map after a restart. */
  private deferred: Array<{ clientId: string; from: number; token: number; cleanStart: boolean }> = [];
  /** A restarted shard: peers whose ownership lists (ended by SYNC_DONE) are still awaited. */
  private syncPending = 0;
  /**
   * A cluster node (docs/cluster.md, "Client ids"): claims with no owner on this node claim the
   * id in the cluster's bucket first, and the session may come from another node. Null: none.
   */
  cluster: Pick<Ownership, 'claim' | 'mine' | 'release' | 'foreign'> | null = null;
  /** Hand-overs to other nodes waiting for their session, by claim token (handOver). */
  private readonly remote = new Map<number, (state: Buffer | null, ghost: MoveEnd | null) => void>();
  /** Sessions moving between nodes without losing what is on its way (set by the wiring on a cluster node). */
  nodeMoves: Pick<NodeMoves, 'leave' | 'arrive' | 'abandon'> | null = null;
  /** At start, while the cluster's bucket is asked which stored sessions are still this node's. */
  private checking = false;
  /** Stored sessions that the bucket gave to another node while this one was down: not loaded. */
  private foreign: ReadonlySet<string> = NONE;

  constructor(shard: ShardContext, peers: PeerLink, store: Pick<Store, 'persistence' | 'flushed'>, sessions: ReadonlyMap<string, Session>,
    moves: Pick<Moves, 'relay' | 'arrive' | 'abandon'>) {
    this.shard = shard;
    this.peers = peers;
    this.store = store;
    this.sessions = sessions;
    this.moves = moves;
  }

  /**
   * At start: after a restart (with peers), wait for every peer's ownership list first; claims
   * for ids homed here wait with it (handleClaim), so a client reconnecting at once still finds
   * its session. A peer that never answers (itself restarting) does not hold the claims for good.
   */
  start(restart: boolean): void {
    const waitPeers = restart && this.shard.count > 1;
    if (waitPeers) {
      // Counted from now: peers' lists may come while the cluster's bucket is still being asked.
      this.syncPending = this.shard.count - 1;
      setTimeout(() => {
        if (this.syncPending === 0) return;
        this.shard.log.warn({ missing: this.syncPending }, 'restart: not every peer sent its ownership list; going on');
        this.syncPending = 0;
        if (!this.checking) this.syncDone();
      }, SYNC_TIMEOUT_MS).unref();
    }
    if (this.cluster === null) { if (!waitPeers) this.host.loadHomed(NONE); return; }
    // A node that was down while another took over one of its ids drops that stored session.
    this.checking = true;
    this.cluster.foreign(this.host.storedHomed()).then((f) => {
      this.foreign = f;
      for (const id of f) this.host.dropStored(id);
      if (f.size > 0) this.shard.log.info({ sessions: f.size }, 'stored sessions taken over on other nodes while this one was down: dropped');
    }, (err: unknown) => this.shard.log.warn({ err }, 'client-id ownership not checked at start')).finally(() => {
      this.checking = false;
      if (!waitPeers) { this.host.loadHomed(this.foreign); this.flushDeferred(); } else if (this.syncPending === 0) this.syncDone();
    });
  }

  /** True while a restarted shard still waits for its peers' ownership lists (or, on a cluster node, for the bucket at start). */
  get syncing(): boolean { return this.syncPending > 0 || this.checking; }

  /** SYNC_DONE from a peer (not a restarted one getting ready): its ownership list is complete. */
  onSyncDone(): void {
    if (this.syncPending > 0 && --this.syncPending === 0 && !this.checking) this.syncDone();
  }

  private syncDone(): void {
    this.syncPending = 0;
    this.host.loadHomed(this.foreign);
    this.flushDeferred();
    // Our sessions are back and their routes announced (FIFO: before this): peers stop
    // withholding acks for messages that matched our old routes.
    if (this.shard.count === 1) return;
    writeSyncDone(this.peers.writer(), this.shard.id);
    this.peers.broadcast();
  }

  home(clientId: string): number { return homeShard(clientId, this.shard.count); }

  /** Starts a CONNECT's claim; `done` runs when the session (or none) arrives for its token. */
  claim(conn: Connection, done: ClaimDone): void {
    const sh = this.shard;
    conn.token = this.allocateToken();
    this.pending.set(conn.token, { conn, done });
    const home = this.home(conn.clientId);
    if (home === sh.id) this.handleClaim(conn.clientId, sh.id, conn.token, conn.cleanStart);
    else { writeClaim(this.peers.writer(), sh.id, conn.token, conn.clientId, conn.cleanStart); this.peers.commit(home); }
  }

  /** At the home shard. */
  handleClaim(clientId: string, from: number, token: number, cleanStart: boolean): void {
    if (this.syncing) { this.deferred.push({ clientId, from, token, cleanStart }); return; }
    const prev = this.owners.get(clientId);
    this.owners.set(clientId, { shard: from, token });
    const cluster = this.cluster;
    if (prev !== undefined) {
      cluster?.mine(clientId);
      this.sendTakeover(prev, clientId, from, token, cleanStart);
    } else if (cluster === null) this.sendSession(from, token, clientId, null);
    else {
      // Nobody here has it: the cluster's bucket says who does. A newer claim meanwhile takes
      // this one over as usual (its session is redirected when it arrives, see handleTakeover).
      cluster.claim(clientId, cleanStart).then((c) => {
        if ('refused' in c) {
          this.shard.log.info({ client: clientId, why: c.why }, 'client id not claimed in the cluster');
          this.sendSession(from, token, clientId, null, CLAIM_REFUSED);
        } else this.sendSession(from, token, clientId, c.state, c.ghost?.shard ?? -1, c.ghost?.token ?? 0, c.ghost?.node ?? null);
      }, (err: unknown) => {
        this.shard.log.warn({ err, client: clientId }, 'cluster claim failed');
        this.sendSession(from, token, clientId, null, CLAIM_REFUSED);
      });
    }
  }

  /**
   * At the home shard, asked by another node that claimed `clientId`: the session owned here
   * (if any) is taken over as by a local claim, its connection closed with 0x8E, and its state
   * resolved for the reply (null: none, or a newer local claim took it first).
   */
  handOver(clientId: string, cleanStart: boolean): Promise<HandedOver> {
    const prev = this.owners.get(clientId);
    // Still loading its sessions: it cannot say yet that it has none (the claimant retries).
    if (this.syncing) return Promise.reject(new Error('this shard is still loading its sessions'));
    if (prev === undefined) return Promise.resolve({ state: null, ghost: null });
    return new Promise((resolve) => {
      const token = this.allocateToken();
      this.owners.set(clientId, { shard: this.shard.id, token });
      this.remote.set(token, (state, ghost) => resolve({ state, ghost }));
      this.sendTakeover(prev, clientId, this.shard.id, token, cleanStart, true);
    });
  }

  private sendTakeover(prev: Owner, clientId: string, newShard: number, token: number, cleanStart: boolean, remote = false): void {
    const sh = this.shard;
    if (prev.shard === sh.id) this.handleTakeover(clientId, prev.token, newShard, token, cleanStart, remote);
    else { writeTakeover(this.peers.writer(), prev.token, newShard, token, clientId, cleanStart, remote); this.peers.commit(prev.shard); }
  }

  private sendSession(to: number, token: number, clientId: string, state: Buffer | null, ghost = -1, ghostToken = 0, ghostNode: string | null = null): void {
    const sh = this.shard;
    if (to === sh.id) this.handleSession(token, clientId, state, ghost, ghostToken, ghostNode);
    else { writeSession(this.peers.writer(), token, clientId, state, ghost, ghostToken, ghostNode); this.peers.commit(to); }
  }

  /** At the previous owner (the ownership `prevToken`): give the session (if any) to the new owner. */
  handleTakeover(clientId: string, prevToken: number, newShard: number, token: number, cleanStart: boolean, remote = false): void {
    const sh = this.shard;
    const s = this.sessions.get(clientId);
    if (s !== undefined && s.token === prevToken && remote) {
      // To another node: its plain subscriptions stay routed here as a ghost that holds what is
      // still on its way here until every node has marked its stream (worker/cluster/node-moves.ts);
      // the stored copy goes in this shard's own write order, after the session's last writes.
      const ghost = !cleanStart && this.nodeMoves !== null;
      this.host.detach(s, Reason.SESSION_TAKEN_OVER, cleanStart, ghost ? NODE_GHOST : -1, token);
      const state = cleanStart ? null : encodeSession(s);
      this.host.dropStored(clientId);
      if (ghost) this.nodeMoves!.leave(s, token);
      this.sendSession(newShard, token, clientId, state, ghost ? sh.id : -1, token, ghost ? sh.config.clusterNodeId : null);
      return;
    }
    if (s !== undefined && s.token === prevToken) {
      // Moving to another shard, the session's routes stay here as a ghost that forwards what
      // is still on its way here, until the new owner's routes are known everywhere (moves.ts).
      const ghost = !cleanStart && newShard !== sh.id;
      this.host.detach(s, Reason.SESSION_TAKEN_OVER, cleanStart, ghost ? newShard : -1, token);
      if (cleanStart && newShard !== sh.id && s.persistent && this.store.persistence !== 'memory') {
        // The new owner deletes the stored session (clean start) in its own transaction: only
        // after ours with this session's last writes has committed, or those could land after
        // the delete and leave a stale queue behind. No ghost on a clean start, so no DIRECT
        // frame can overtake the late SESSION.
        const hand = (): void => this.sendSession(newShard, token, clientId, null);
        this.store.flushed().then(hand, hand);
        return;
      }
      this.sendSession(newShard, token, clientId, cleanStart ? null : encodeSession(s), ghost ? sh.id : -1, token);
      return;
    }
    // That CONNECT of ours (or another node's hand-over) is still waiting: its session will arrive here; pass it on then.
    if (this.pending.has(prevToken) || this.remote.has(prevToken)) {
      this.redirect.set(prevToken, { shard: newShard, token, cleanStart });
      return;
    }
    // The superseded session has already ended here (its RELEASE crossed this claim).
    this.sendSession(newShard, token, clientId, null);
  }

  /** At the claiming shard: the session (or none) has arrived. */
  handleSession(token: number, clientId: string, state: Buffer | null, ghost = -1, ghostToken = 0, ghostNode: string | null = null): void {
    const sh = this.shard;
    const p = this.pending.get(token);
    const conn = p?.conn;
    this.pending.delete(token);
    const remote = this.remote.get(token);
    this.remote.delete(token);
    const to = this.redirect.get(token);
    if (to !== undefined) {
      this.redirect.delete(token);
      if (conn !== undefined && conn.state !== ConnState.CLOSED) conn.disconnect(Reason.SESSION_TAKEN_OVER);
      remote?.(null, null);
      // The ghost forwards to our token: pass its traffic on to the claim that superseded ours.
      if (ghost >= 0 && ghostNode === null) this.moves.relay(token, to.shard, to.token);
      this.sendSession(to.shard, to.token, clientId, to.cleanStart ? null : state, ghost, ghostToken, ghostNode);
      return;
    }
    if (remote !== undefined) {
      // The session leaves for the node that claimed it: nothing here owns the id any more.
      if (this.owners.get(clientId)?.token === token) this.owners.delete(clientId);
      if (ghostNode !== null) { remote(state, { node: ghostNode, shard: ghost, token: ghostToken }); return; }
      if (ghost >= 0) this.moves.abandon(ghost, ghostToken, clientId);
      remote(state, null);
      return;
    }
    if (ghost === CLAIM_REFUSED) {
      if (conn !== undefined && conn.state !== ConnState.CLOSED) p!.done(conn, null, Reason.SERVER_UNAVAILABLE);
      this.release(clientId, token);
      return;
    }
    let s: Session | undefined;
    if (conn !== undefined && conn.state !== ConnState.CLOSED) {
      p!.done(conn, state);
      if (!conn.cleanStart) s = conn.session ?? undefined;
    } else if (conn === undefined && this.sessions.get(clientId)?.token === token) {
      // A late hand-over to a claim that already completed with a fresh session (after a shard
      // restart, see handleOwned): the connected session wins; the stale state is dropped.
    } else {
      // The client went away while waiting; keep a persistent session it had, offline.
      this.host.adoptOffline(clientId, token, state);
      s = this.sessions.get(clientId);
    }
    if (ghostNode !== null) {
      // From another node, its ghost holding what is on its way (worker/cluster/node-moves.ts).
      const g = { node: ghostNode, shard: ghost, token: ghostToken };
      if (state !== null && s !== undefined && s.token === token) this.nodeMoves?.arrive(s, g); else this.nodeMoves?.abandon(g, clientId);
      return;
    }
    if (ghost < 0) return;
    if (state !== null && s !== undefined && s.token === token) this.moves.arrive(s, ghost, ghostToken);
    else this.moves.abandon(ghost, ghostToken, clientId);
  }

  /** The session owned here under `token` ended: tell its home shard. */
  release(clientId: string, token: number): void {
    const sh = this.shard;
    const home = this.home(clientId);
    if (home === sh.id) this.handleRelease(clientId, sh.id, token);
    else { writeRelease(this.peers.writer(), sh.id, token, clientId); this.peers.commit(home); }
  }

  handleRelease(clientId: string, from: number, token: number): void {
    const cur = this.owners.get(clientId);
    if (cur !== undefined && cur.shard === from && cur.token === token) {
      this.owners.delete(clientId);
      this.cluster?.release(clientId);
    }
  }

  /** A peer restarted: drop what pointed at it, and tell it which of its home ids we own. */
  peerRestarted(peer: number): void {
    const sh = this.shard;
    for (const [id, o] of this.owners) if (o.shard === peer) this.owners.delete(id);
    // Claims we sent to its old rings may never have been read: ask its new incarnation (after
    // the ownership list below, so it answers them with its map complete). A claim it did
    // answer before dying is no longer pending here.
    const again: Connection[] = [];
    for (const { conn } of this.pending.values()) if (this.home(conn.clientId) === peer) again.push(conn);
    for (const [id, s] of this.sessions) {
      if (this.home(id) === peer) { writeOwned(this.peers.writer(), sh.id, s.token, id); this.peers.commit(peer); }
    }
    writeSyncDone(this.peers.writer(), sh.id);
    this.peers.commit(peer);
    for (const conn of again) { writeClaim(this.peers.writer(), sh.id, conn.token, conn.clientId, conn.cleanStart); this.peers.commit(peer); }
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

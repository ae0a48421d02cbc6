import type { Logger } from 'pino';
import type { BrokerConfig } from '../shared/config.ts';
import { FrameType, PubFlag, writePublish, writeSyncDone } from './peers/frames.ts';
import type { ByteReader } from '../shared/bytes.ts';
import { Reason } from '../shared/protocol/reason-codes.ts';
import { Stat, type StatsBlock } from '../shared/stats.ts';
import type { Store } from '../shared/store/index.ts';
import { AllowAll, type AuthHook } from './auth/hook.ts';
import { Connection, type ClientSocket } from './net/connection.ts';
import { ConnState } from './net/conn-state.ts';
import { Delivery } from './routing/delivery.ts';
import { Durability } from './durable/durability.ts';
import { completeConnect } from './protocol/handlers/connack.ts';
import { Message, readMessageBody } from './session/message.ts';
import { PublishView } from './protocol/publish-view.ts';
import { Peers } from './peers/peers.ts';
import type { PeerRings, ShardInit } from '../shared/control.ts';
import { fromStoredMessage, fromStoredSession, toStoredMessage, toStoredSession } from './durable/persist.ts';
import { Registry } from './session/registry.ts';
import { RetainedIndex } from './routing/retain.ts';
import { RetainedSync } from './routing/retain-sync.ts';
import { Moves } from './session/moves.ts';
import { Routing } from './routing/routing.ts';
import { decodeSession } from './durable/session-codec.ts';
import { NEVER_EXPIRES, type Session } from './session/session.ts';
import { parseFilter } from './protocol/handlers/subscribe.ts';
import { setLongTimeout } from './session/timers.ts';

const SYNC_TIMEOUT_MS = 5000;

/**
 * Everything one worker thread owns: its connections, the sessions of its clients, its local
 * subscriptions and copy of the route table, its replica of the retained messages, and its ends
 * of the rings. Handlers get at all of it through the connection's `shard`.
 */
export class Shard {
  readonly id: number;
  readonly count: number;
  readonly config: BrokerConfig;
  readonly stats: StatsBlock;
  readonly log: Logger;
  readonly store: Store;
  readonly peers: Peers;
  readonly routing: Routing;
  readonly registry: Registry;
  readonly delivery: Delivery;
  readonly durability: Durability;
  readonly retained = new RetainedIndex();
  readonly retainSync: RetainedSync;
  readonly moves: Moves;
  /** The PUBLISH frame being handled (read in place from the ring). */
  private readonly forwarded = new PublishView();
  auth: AuthHook = new AllowAll(); // replaced at start from the configuration (createAuthHook)
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  private syncPending = 0;
  shuttingDown = false;

  constructor(init: ShardInit, stats: StatsBlock, log: Logger, store: Store) {
    this.id = init.id;
    this.count = init.count;
    this.config = init.config;
    this.stats = stats;
    this.log = log;
    this.store = store;
    this.routing = new Routing(this);
    this.registry = new Registry(this);
    this.durability = new Durability(this);
    this.delivery = new Delivery(this);
    this.retainSync = new RetainedSync(this);
    this.moves = new Moves(this);
    this.peers = new Peers(this, init.bellSab, init.rings, init.config.ringCapacity, (r, from) => this.onFrame(r, from));
  }

  /** Loads retained messages and the persistent sessions homed here; then listens to peers. */
  boot(restart: boolean): void {
    const now = Date.now();
    for (const m of this.store.loadRetained()) {
      if (m.expiresAt !== 0 && m.expiresAt <= now) continue;
      this.retained.set(m.topic, fromStoredMessage(m));
    }
    this.stats.set(this.id, Stat.RETAINED, this.retained.size);
    if (!restart || this.count === 1) this.loadHomedSessions();
    else {
      // Wait for every peer's ownership list first; claims for ids homed here wait with it
      // (registry.handleClaim), so a client reconnecting at once still finds its session. A
      // peer that never answers (itself restarting) does not hold the claims for good.
      this.syncPending = this.count - 1;
      setTimeout(() => {
        if (this.syncPending === 0) return;
        this.log.warn({ missing: this.syncPending }, 'restart: not every peer sent its ownership list; going on');
        this.syncDone();
      }, SYNC_TIMEOUT_MS).unref();
    }
    this.peers.start();
    this.durability.start();
  }

  /** True while a restarted shard still waits for its peers' ownership lists. */
  get syncing(): boolean { return this.syncPending > 0; }

  private syncDone(): void {
    this.syncPending = 0;
    this.loadHomedSessions();
    this.registry.flushDeferred();
    // Our sessions are back and their routes announced (FIFO: before this): peers stop
    // withholding acks for messages that matched our old routes.
    for (let i = 0; i < this.count; i++) {
      if (i === this.id) continue;
      writeSyncDone(this.peers.writer(), this.id);
      this.peers.commit(i);
    }
  }

  private loadHomedSessions(): void {
    for (const st of this.store.listSessions()) {
      if (this.registry.home(st.clientId) !== this.id || this.registry.owners.has(st.clientId)) continue;
      this.adoptStored(st.clientId);
    }
  }

  /** Takes a persistent session from the store as an offline session owned by this shard. */
  private adoptStored(clientId: string): void {
    const st = this.store.getSession(clientId);
    if (st === undefined) return;
    const s = fromStoredSession(st);
    this.durability.restore(s);
    const token = this.registry.allocateToken();
    s.token = token;
    this.registry.own(clientId, token);
    this.adoptSession(s);
    const since = st.disconnectedAt || Date.now();
    const w = s.will;
    if (w !== null) {
      // A will still pending when the broker stopped (or crashed under a connected client) goes
      // out when its delay, counted from the disconnect, has passed [MQTT-3.1.3-9].
      const delay = s.expiryInterval === NEVER_EXPIRES ? w.delayMs : Math.min(w.delayMs, s.expiryInterval * 1000);
      s.willTimer = setLongTimeout(() => { s.willTimer = null; this.publishWill(s); }, Math.max(0, since + delay - Date.now()));
    }
    this.sessionOffline(s, since);
  }

  adoptSocket(socket: ClientSocket): void {
    if (this.shuttingDown) { socket.destroy(); this.stats.addLive(this.id, -1); return; }
    const c = new Connection(this, socket);
    this.connections.add(c);
  }

  /** Makes a session owned by this shard and puts its subscriptions into routing. */
  adoptSession(s: Session): void {
    this.sessions.set(s.clientId, s);
    this.durability.owned(s, true);
    for (const sub of s.subs.values()) this.routing.add(sub);
  }

  completeConnect(conn: Connection, state: Buffer | null): void {
    try {
      completeConnect(conn, state);
    } catch (err) {
      // A bug here must cost one connection, not the frame loop: close it and say why.
      this.log.error({ err, client: conn.clientId }, 'completing CONNECT failed');
      conn.close();
    }
  }

  /** A claim completed for a connection that is gone: keep its persistent session, offline. */
  adoptOffline(clientId: string, token: number, state: Buffer | null): void {
    if (state === null) { this.registry.release(clientId, token); return; }
    const s = decodeSession(clientId, state, parseFilter);
    s.token = token;
    if (!s.persistent) { this.registry.release(clientId, token); return; }
    this.adoptSession(s);
    this.sessionOffline(s, Date.now());
  }

  /** Another connection takes this session: close ours (0x8E), unhook the session, hand it on. */
  /** `ghostTo` ≥ 0: the session moves to that shard; its routes stay as a forwarding ghost (moves.ts). */
  detachSession(s: Session, reason: number, cleanStart: boolean, ghostTo = -1, ghostToken = 0): void {
    const c = s.conn;
    if (c !== null) {
      s.conn = null;
      c.session = null;
      // The old connection ends without DISCONNECT: its will goes out unless the session
      // continues and the will is delayed [MQTT-3.1.3-9].
      if (s.will !== null && (s.will.delayMs === 0 || cleanStart)) this.publishWill(s);
      c.disconnect(reason);
    } else {
      this.stats.add(this.id, Stat.SESSIONS_OFFLINE, -1);
      if (cleanStart && s.will !== null && s.willTimer !== null) this.publishWill(s);
    }
    s.clearTimers();
    // A ghost keeps its plain subscriptions routed; shared ones go (another member can take them).
    for (const sub of s.subs.values()) if (ghostTo < 0 || sub.group !== null) this.routing.remove(sub);
    if (ghostTo >= 0) this.moves.leave(s, ghostTo, ghostToken);
    this.sessions.delete(s.clientId);
    this.durability.owned(s, false);
    this.stats.add(this.id, Stat.QUEUED, -(s.queued));
  }

  connectionClosed(conn: Connection, wasConnected: boolean): void {
    this.connections.delete(conn);
    this.stats.addLive(this.id, -1);
    if (wasConnected) this.stats.add(this.id, Stat.CLIENTS_CONNECTED, -1);
    const s = conn.session;
    if (s === null || s.conn !== conn) return;
    conn.session = null;
    s.conn = null;
    if (this.shuttingDown) return;
    if (conn.disconnectNormal && !conn.willOnDisconnect) s.will = null; // [MQTT-3.1.2-10]
    if (s.expiryInterval === 0) {
      if (s.will !== null) this.publishWill(s);
      this.endSession(s);
      return;
    }
    if (s.will !== null) {
      if (s.will.delayMs === 0) this.publishWill(s);
      else s.willTimer = setLongTimeout(() => { s.willTimer = null; this.publishWill(s); }, Math.min(s.will.delayMs, s.expiryInterval * 1000));
    }
    this.sessionOffline(s, Date.now());
  }

  private sessionOffline(s: Session, since: number): void {
    s.disconnectedAt = since;
    this.stats.add(this.id, Stat.SESSIONS_OFFLINE, 1);
    if (s.expiryInterval !== NEVER_EXPIRES) {
      const left = Math.max(0, since + s.expiryInterval * 1000 - Date.now());
      s.expiryTimer = setLongTimeout(() => { s.expiryTimer = null; this.stats.add(this.id, Stat.SESSIONS_OFFLINE, -1); this.endSession(s); }, left);
    }
    this.persistSession(s);
  }

  /** The session is over: its will (if still pending) goes out, its state is deleted [MQTT-4.1.0-?]. */
  endSession(s: Session): void {
    if (s.willTimer !== null && s.will !== null) this.publishWill(s);
    s.clearTimers();
    for (const sub of s.subs.values()) this.routing.remove(sub);
    this.sessions.delete(s.clientId);
    // Only a session that was persistent while owned here was ever written (counted).
    const stored = s.counted;
    this.durability.owned(s, false);
    this.stats.add(this.id, Stat.QUEUED, -(s.queued));
    this.registry.release(s.clientId, s.token);
    if (stored) this.durability.track(this.store.deleteSession(s.clientId), 'delete session');
  }

  publishWill(s: Session): void {
    const w = s.will;
    if (w === null) return;
    s.will = null;
    if (s.willTimer !== null) { s.willTimer.clear(); s.willTimer = null; }
    const now = Date.now();
    const msg = new Message(w.topic, w.payload, w.qos, w.retain, w.props, w.expiry >= 0 ? now + w.expiry * 1000 : 0, s.clientId);
    this.routing.publish(msg, now);
    // Sent: a restart must not send it again.
    if (s.persistent && s.conn === null && this.sessions.get(s.clientId) === s) this.persistSession(s);
  }

  persistSession(s: Session): void {
    if (!s.persistent) return;
    this.durability.track(this.store.putSession(toStoredSession(s)), 'put session');
  }

  /**
   * A retained PUBLISH from a client of this shard (or a will): ordered through the topic's home
   * shard (retain-sync.ts). Settles when the set is applied and committed there.
   */
  retainFromClient(msg: Message): Promise<void> { return this.retainSync.set(msg); }

  /** Writes a retained set to the store; settles when committed (a failure is logged, not thrown). */
  storeRetained(msg: Message): Promise<void> {
    return this.store.putRetained(msg.topic, msg.payload.length === 0 ? null : toStoredMessage(msg))
      .catch((err) => this.log.error({ err, topic: msg.topic }, 'store: put retained failed'));
  }

  retainReplica(msg: Message): void {
    // An empty retained payload clears the topic and is not itself stored [MQTT-3.3.1-10/11].
    this.retained.set(msg.topic, msg.payload.length === 0 ? null : msg.detach());
    this.stats.set(this.id, Stat.RETAINED, this.retained.size);
  }

  /** $SYS values from main: every shard gets them, so nothing is forwarded. */
  sysUpdate(items: [string, string][]): void {
    const now = Date.now();
    for (const [topic, value] of items) {
      const msg = new Message(topic, Buffer.from(value), 0, true, null, 0, '');
      this.retained.set(topic, msg);
      this.delivery.deliverLocal(msg, now);
    }
  }

  /** A peer restarted with fresh rings: forget what it had, tell it what we have. */
  peerRestarted(peer: number, rings: PeerRings): void {
    // Answers the dead incarnation still wrote count; only the ones it never gave are lost.
    this.peers.replace(peer, rings, this.config.ringCapacity);
    this.durability.peerRestarted(peer);
    // Its persistent sessions are back only at its SYNC_DONE (those homed there): until then a
    // QoS 1/2 message for them is not acknowledged (routing.ts, stale routes).
    this.routing.dropShard(peer, this.durability.enabled && this.stats.get(peer, Stat.PERSISTENT_SESSIONS) > 0);
    this.retainSync.peerRestarted(peer);
    this.moves.peerRestarted(peer);
    for (const [id, o] of this.registry.owners) {
      // Sessions homed here that the dead shard owned: take them back from the store.
      if (o.shard === peer) { this.registry.owners.delete(id); this.adoptStored(id); }
    }
    this.routing.syncTo(peer);
    if (this.store.persistence === 'memory' && (peer + 1) % this.count === this.id) {
      // Memory mode has no shared store: one peer sends the retained replica.
      for (const m of this.retained.entries()) {
        if (m.topic.startsWith('$SYS')) continue;
        writePublish(this.peers.writer(), m.qos | PubFlag.RETAIN | PubFlag.RETAIN_UPDATE, 0, m.expiresAt, m.topic, m.origin, m.props, m.payload, null);
        this.peers.commit(peer);
      }
    }
    this.registry.peerRestarted(peer);
  }

  private onFrame(r: ByteReader, from: number): void {
    const type = r.u8();
    switch (type) {
      case FrameType.PUBLISH: {
        const f = this.forwarded.read(r, from);
        const now = Date.now();
        const flags = f.flags;
        // An expired retained update still applies: it must not leave an older value in place.
        if (f.expiresAt !== 0 && f.expiresAt <= now && (flags & PubFlag.RETAIN_UPDATE) === 0) return;
        if ((flags & (PubFlag.RETAIN_UPDATE | PubFlag.DELIVER)) === PubFlag.DELIVER && f.groups === null) {
          this.delivery.deliverView(f, now);
          return;
        }
        this.routing.fromPeer(f.toMessage(), flags, f.groups, now);
        return;
      }
      case FrameType.RETAIN_SET: {
        const shard = r.u8();
        const token = r.u32();
        this.retainSync.onSet(shard, token, readMessageBody(r, r.u8()));
        return;
      }
      case FrameType.RETAIN_DONE: this.retainSync.onDone(r.u32()); return;
      case FrameType.DIRECT: this.moves.onDirect(r); return;
      case FrameType.MOVE_READY: { const token = r.u32(); this.moves.onReady(token, r.str()); return; }
      case FrameType.MOVE_DONE: { const token = r.u32(); this.moves.onDone(token, r.str()); return; }
      case FrameType.ROUTE: { const add = r.u8() === 1; const shard = r.u8(); this.routing.applyRoute(add, shard, r.str()); return; }
      case FrameType.SHARE: { const shard = r.u8(); const count = r.u32(); this.routing.applyShare(shard, r.str(), count); return; }
      case FrameType.CLAIM: { const shard = r.u8(); const token = r.u32(); const clean = r.u8() === 1; this.registry.handleClaim(r.str(), shard, token, clean); return; }
      case FrameType.TAKEOVER: { const prev = r.u32(); const shard = r.u8(); const token = r.u32(); const clean = r.u8() === 1; this.registry.handleTakeover(r.str(), prev, shard, token, clean); return; }
      case FrameType.SESSION: {
        const token = r.u32();
        const id = r.str();
        const state = r.maybeBytes();
        const ghost = r.u8();
        this.registry.handleSession(token, id, state, ghost === 255 ? -1 : ghost, r.u32());
        return;
      }
      case FrameType.RELEASE: { const shard = r.u8(); const token = r.u32(); this.registry.handleRelease(r.str(), shard, token); return; }
      case FrameType.OWNED: { const shard = r.u8(); const token = r.u32(); this.registry.handleOwned(r.str(), shard, token); return; }
      case FrameType.BARRIER: this.peers.onBarrier(false, r.u8(), r.u32()); return;
      case FrameType.BARRIER_ACK: this.peers.onBarrier(true, r.u8(), r.u32()); return;
      case FrameType.COMMIT_BARRIER: { const shard = r.u8(); const token = r.u32(); this.durability.onCommitBarrier(shard, token, r.u8() === 1); return; }
      case FrameType.COMMIT_BARRIER_ACK: { r.u8(); const token = r.u32(); this.durability.onCommitBarrierAck(token, r.u8() === 1); return; }
      case FrameType.SYNC_DONE: {
        r.u8();
        // From a restarted peer: its sessions are back. Otherwise: a peer's ownership list is complete.
        if (this.routing.peerReady(from)) return;
        if (this.syncPending > 0 && --this.syncPending === 0) this.syncDone();
        return;
      }
      default:
        this.log.error({ type, from }, 'unknown frame type from a peer shard');
    }
  }

  /** Graceful stop: v5 clients are told 0x8B, persistent sessions are saved, the store closes. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const c of [...this.connections]) {
      if (c.state === ConnState.CONNECTED) {
        const s = c.session;
        if (s !== null && s.persistent) { s.disconnectedAt = Date.now(); this.persistSession(s); }
        c.disconnect(Reason.SERVER_SHUTTING_DOWN);
      } else c.close();
    }
    this.peers.stop();
    this.durability.stop();
    await new Promise((r) => setTimeout(r, 50));
    await this.store.flushed().catch(() => {});
    await this.store.close();
  }
}

// The wiring: builds a shard's parts, each given only what it uses, and connects them. The rooms:
// net/ (sockets to packets and back), protocol/ (packet handlers and codecs), session/ (a
// session's life, client-id ownership, moves), routing/ (where messages go, delivery, retained),
// peers/ (the rings to the other shards and the frame table), durable/ (the store and the commit
// gate), auth/ (the authentication hook).
import type { Logger } from 'pino';
import type { BrokerConfig } from '../shared/config.ts';
import { Reason } from '../shared/protocol/reason-codes.ts';
import { disconnectReason } from './auth/connect-log.ts';
import { Stat, type StatsBlock } from '../shared/stats.ts';
import type { Store } from '../shared/store/index.ts';
import { TopicTrie } from '../shared/topics/trie.ts';
import type { PeerRings, ShardInit } from '../shared/control.ts';
import type { AccessHook } from './auth/access.ts';
import { AllowAll, type AuthHook } from './auth/hook.ts';
import { ConnectLimits, REFUSED } from './auth/limits.ts';
import type { ShardContext } from './context.ts';
import { HookRegistry } from './hooks/registry.ts';
import { Durability } from './durable/durability.ts';
import { StoreUpkeep } from './durable/upkeep.ts';
import { Backpressure } from './net/backpressure.ts';
import { ConnState } from './net/conn-state.ts';
import type { ClientSocket } from './net/client-socket.ts';
import { Connection, socketOfAccepted, useDispatcher } from './net/connection.ts';
import { isAcceptedHandle, type AcceptedHandle } from './net/socket-reader.ts';
import type { SocketSink } from './net/transports.ts';
import type { ShardParts } from './parts.ts';
import { dispatch } from './protocol/handlers/index.ts';
import { NEW_SOCKET_COST, TurnBudget, intakeTurn } from './protocol/handlers/connect-budget.ts';
import { fillFrameTable, type FrameHandler } from './peers/dispatch.ts';
import { Peers } from './peers/peers.ts';
import { Delivery } from './routing/delivery.ts';
import { RetainedIndex } from './routing/retain.ts';
import { RetainedSync } from './routing/retain-sync.ts';
import { Routing } from './routing/routing.ts';
import { SessionLifecycle } from './session/lifecycle.ts';
import { Message } from './session/message.ts';
import { Moves } from './session/moves.ts';
import { Registry } from './session/registry.ts';
import type { Session } from './session/session.ts';
import type { Subscription } from './session/subscription.ts';
import { countConnected } from './control/kinds.ts';
import { disconnected, forgetClient, stopped } from './hooks/lifecycle.ts';

// Connections know packets as bytes; what they mean is the protocol room's.
useDispatcher(dispatch);

/** One worker thread: its connections and the parts that serve them. */
export class Shard implements ShardParts, SocketSink {
  readonly id: number;
  readonly count: number;
  readonly config: BrokerConfig;
  readonly stats: StatsBlock;
  readonly log: Logger;
  readonly hooks = new HookRegistry(); // loaded at start (worker/index.ts)
  readonly store: Store;
  readonly bp: Backpressure;
  readonly peers: Peers;
  readonly routing: Routing;
  readonly registry: Registry;
  readonly delivery: Delivery;
  readonly durability: Durability;
  private readonly upkeep: StoreUpkeep;
  readonly retained = new RetainedIndex();
  readonly retainSync: RetainedSync;
  readonly moves: Moves;
  readonly lifecycle: SessionLifecycle;
  auth: AuthHook = new AllowAll(); // replaced at start from the configuration (createSecurity)
  access: AccessHook | null = null; // likewise; null = no access control
  readonly limits: ConnectLimits;
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  shuttingDown = false;

  constructor(init: ShardInit, stats: StatsBlock, log: Logger, store: Store) {
    this.id = init.id;
    this.count = init.count;
    this.config = init.config;
    this.stats = stats;
    this.log = log;
    this.store = store;
    const ctx: ShardContext = { id: init.id, count: init.count, config: init.config, stats, log, hooks: this.hooks };
    const local = new TopicTrie<Subscription>();
    this.limits = new ConnectLimits(ctx);
    this.bp = new Backpressure(init.config.slowClientMs, init.config.maxClientBacklog, init.config.socketHighWater, { messages: init.config.maxQueuedMessages, bytes: init.config.maxQueuedBytes });
    const frames: FrameHandler[] = [];
    this.peers = new Peers(ctx, this.bp, init.bellSab, init.rings, init.config.ringCapacity, (r, from) => frames[r.u8()]!(r, from));
    this.durability = new Durability(ctx, store, this.peers);
    this.upkeep = new StoreUpkeep(ctx, store, this.sessions, this.durability);
    this.delivery = new Delivery(ctx, local, this.durability, this.bp);
    this.retainSync = new RetainedSync(ctx, this.peers, this.retained, store);
    this.routing = new Routing(ctx, this.peers, local, this.delivery, this.durability, this.retainSync);
    this.moves = new Moves(ctx, this.peers, this.sessions, this.delivery, this.routing, this.durability);
    this.delivery.moves = this.moves;
    this.delivery.withdraws = this.routing.withdraws;
    this.durability.moves = this.moves;
    this.registry = new Registry(ctx, this.peers, store, this.sessions, this.moves);
    this.lifecycle = new SessionLifecycle(ctx, store, this.sessions, this.durability, this.routing, this.registry, this.moves, () => this.access,
      (stat, name, fields, msg) => this.limits.hit(stat, name, fields, msg));
    this.registry.host = this.lifecycle;
    fillFrameTable(frames, ctx, this);
  }

  /** Loads retained messages and the persistent sessions homed here; then listens to peers. */
  boot(restart: boolean): void {
    this.retainSync.load(Date.now());
    this.registry.start(restart);
    this.peers.start();
    this.upkeep.start();
  }

  /** New sockets, within the shard's intake allowance per turn (connect-budget.ts): other clients' packets interleave. */
  private readonly newSockets = new TurnBudget<ClientSocket | AcceptedHandle>(intakeTurn, (s) => this.takeUp(s), NEW_SOCKET_COST);

  adoptSocket(socket: ClientSocket | AcceptedHandle): void {
    if (this.newSockets.admit(socket)) this.takeUp(socket);
  }

  private takeUp(item: ClientSocket | AcceptedHandle): void {
    const socket = isAcceptedHandle(item) ? socketOfAccepted(item) : item;
    // Shutting down, or past --connect-rate / --max-connections-per-ip: closed before CONNECT is read.
    const slot = this.shuttingDown ? REFUSED : this.limits.admit(socket);
    if (slot === REFUSED) { socket.destroy(); this.stats.addLive(this.id, -1); return; }
    const c = new Connection(this, socket);
    this.limits.opened(c, slot);
    this.connections.add(c);
  }

  /** A connection from inside the shard (a bridge's local side, bridge/local.ts): no address limits. */
  adoptInternal(socket: ClientSocket): void {
    this.stats.addLive(this.id, 1);
    const c = new Connection(this, socket);
    this.connections.add(c);
  }

  /**
   * The ACL was reloaded: every subscription of a client with access control is checked at
   * delivery from now on (its verdict was the old file's), and each client's rules are
   * prepared again from the new file at its next operation (acl-access.ts).
   */
  accessReloaded(): void {
    for (const s of this.sessions.values()) {
      if (s.guard === null) continue;
      for (const sub of s.subs.values()) sub.guard = s.guard;
    }
  }

  connectionClosed(conn: Connection, wasConnected: boolean): void {
    this.connections.delete(conn);
    this.limits.closed(conn);
    forgetClient(this.hooks, this.sessions, conn);
    this.stats.addLive(this.id, -1);
    if (wasConnected) {
      this.stats.add(this.id, Stat.CLIENTS_CONNECTED, -1);
      countConnected(this.stats, this.id, conn.socket, conn.version, -1);
      if (this.log.isLevelEnabled('info')) this.log.info({ client: conn.clientId, reason: disconnectReason(conn) }, 'client disconnected');
    }
    const s = conn.session;
    if (s === null || s.conn !== conn) return;
    conn.session = null;
    s.conn = null;
    s.mayTakeAgain();
    if (wasConnected) disconnected(this, conn, s.expiryInterval !== 0 && !this.shuttingDown);
    if (!this.shuttingDown) this.lifecycle.connectionClosed(conn, s);
  }

  /** $SYS values from main: every shard gets them, so nothing is forwarded. */
  sysUpdate(items: [string, string][]): void {
    if (this.hooks.has.onSysInfoTick) this.hooks.notify('onSysInfoTick', this.log, Object.fromEntries(items));
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
    this.peers.replace(peer, rings);
    this.durability.peerRestarted(peer);
    // Its persistent sessions are back only at its SYNC_DONE (those homed there): until then a
    // QoS 1/2 message for them is not acknowledged (routing.ts, stale routes).
    this.routing.dropShard(peer, this.durability.enabled && this.stats.get(peer, Stat.PERSISTENT_SESSIONS) > 0);
    this.retainSync.peerRestarted(peer);
    this.moves.peerRestarted(peer);
    this.lifecycle.takeBackFrom(peer);
    this.routing.syncTo(peer);
    this.retainSync.sendReplica(peer);
    this.registry.peerRestarted(peer);
  }

  /** Graceful stop: v5 clients are told 0x8B, persistent sessions are saved, the store closes. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const c of [...this.connections]) {
      if (c.state === ConnState.CONNECTED) {
        const s = c.session;
        if (s !== null && s.persistent) { s.disconnectedAt = Date.now(); this.lifecycle.persist(s); }
        c.disconnect(Reason.SERVER_SHUTTING_DOWN);
      } else c.close();
    }
    this.peers.stop();
    this.upkeep.stop();
    await stopped(this.hooks, this.log);
    await new Promise((r) => setTimeout(r, 50));
    await this.store.flushed().catch(() => {});
    await this.store.close();
  }
}

// The session room: a session's life on its owning shard, with or without a connection — taken
// from the store or from a peer (adopt), handed to another connection (detach), kept offline
// after its connection closed (with the expiry timer), ended (its state deleted), and its will
// (published at once, or once its delay has passed: scheduled in one place, scheduleWill). The
// room's other parts: session.ts (the state), registry.ts (who owns a client id, takeovers),
// moves.ts (lossless moves between shards), message.ts, subscription.ts, timers.ts.
import { Stat } from '../../shared/stats.ts';
import { ClientGuard, DENY_ALL, type AccessHook } from '../auth/access.ts';
import type { Store } from '../../shared/store/index.ts';
import type { ShardContext } from '../context.ts';
import { decodeSession } from '../durable/session-codec.ts';
import type { Durability } from '../durable/durability.ts';
import { fromStoredSession, toStoredSession } from '../durable/persist.ts';
import type { Connection } from '../net/connection.ts';
import type { Routing } from '../routing/routing.ts';
import { Message } from './message.ts';
import type { Moves } from './moves.ts';
import { NODE_GHOST } from './move.ts';
import type { Registry, RegistryHost } from './registry.ts';
import { NEVER_EXPIRES, type Session } from './session.ts';
import { parseFilter } from './subscription.ts';
import { setLongTimeout } from './timers.ts';
import { disconnected, inflightDropped, willOf, willSent } from '../hooks/lifecycle.ts';

/** Counts a limit's hit and logs it, rate limited (ConnectLimits.hit, auth/limits.ts). */
type LimitHit = (stat: number, name: string, fields: Record<string, unknown>, msg: string) => void;

export class SessionLifecycle implements RegistryHost {
  private readonly shard: ShardContext;
  private readonly store: Store;
  /** The sessions this shard owns, by client id (shared with the parts that look them up). */
  readonly sessions: Map<string, Session>;
  private readonly durability: Pick<Durability, 'restore' | 'owned' | 'track' | 'homedLoaded'>;
  private readonly routing: Pick<Routing, 'add' | 'remove' | 'publish'>;
  private readonly registry: Pick<Registry, 'home' | 'owners' | 'allocateToken' | 'own' | 'release'>;
  private readonly moves: Pick<Moves, 'leave'>;
  /** the shard's access hook (set once security is built, before the store is read); null = none */
  private readonly access: () => AccessHook | null;
  /** counts and logs (rate limited) a denied will and a session ended by --persistent-client-expiration */
  private readonly limitHit: LimitHit;

  constructor(shard: ShardContext, store: Store, sessions: Map<string, Session>, durability: Pick<Durability, 'restore' | 'owned' | 'track' | 'homedLoaded'>,
    routing: Pick<Routing, 'add' | 'remove' | 'publish'>, registry: Pick<Registry, 'home' | 'owners' | 'allocateToken' | 'own' | 'release'>, moves: Pick<Moves, 'leave'>,
    access: () => AccessHook | null = () => null,
    limitHit: LimitHit = (stat, _name, fields, msg) => { shard.stats.add(shard.id, stat, 1); shard.log.info(fields, msg); }) {
    this.access = access;
    this.limitHit = limitHit;
    this.shard = shard;
    this.store = store;
    this.sessions = sessions;
    this.durability = durability;
    this.routing = routing;
    this.registry = registry;
    this.moves = moves;
  }

  /** The persistent sessions homed here that nobody owns: taken from the store, offline (but those in `skip`). */
  loadHomed(skip: ReadonlySet<string>): void {
    for (const st of this.store.listSessions()) {
      if (this.registry.home(st.clientId) !== this.shard.id || this.registry.owners.has(st.clientId) || skip.has(st.clientId)) continue;
      this.adoptStored(st.clientId);
    }
    this.durability.homedLoaded();
  }

  storedHomed(): string[] {
    const ids: string[] = [];
    for (const st of this.store.listSessions()) if (this.registry.home(st.clientId) === this.shard.id) ids.push(st.clientId);
    return ids;
  }

  /** The session moved to another node (or was taken there while this one was down): its stored copy here goes. */
  dropStored(clientId: string): void {
    if (this.store.persistence === 'memory' || this.store.getSession(clientId) === undefined) return;
    this.durability.track(this.store.deleteSession(clientId), 'delete session');
  }

  /** Takes a persistent session from the store as an offline session owned by this shard. */
  adoptStored(clientId: string): void {
    const st = this.store.getSession(clientId);
    if (st === undefined) return;
    const s = fromStoredSession(st);
    this.guardOffline(s);
    this.durability.restore(s);
    const token = this.registry.allocateToken();
    s.token = token;
    this.registry.own(clientId, token);
    this.adopt(s);
    const since = st.disconnectedAt || Date.now();
    // A will still pending when the broker stopped (or crashed under a connected client) goes
    // out when its delay, counted from the disconnect, has passed [MQTT-3.1.3-9].
    if (s.will !== null) this.scheduleWill(s, Math.max(0, since + this.willDelay(s) - Date.now()));
    this.offline(s, since);
  }

  /**
   * An offline session's access, from the user name kept with it: its will and the deliveries to
   * its queue are checked as for its client (every subscription at delivery, cached: their
   * verdicts were made for the connection). A store record older than the user name gives no
   * identity, so nothing is allowed on its behalf until its client connects again.
   */
  private guardOffline(s: Session): void {
    const access = this.access();
    if (access === null) return;
    const g = s.guard = new ClientGuard(s.userKnown ? access : DENY_ALL, s.clientId, s.username);
    for (const sub of s.subs.values()) sub.guard = g;
  }

  /** Makes a session owned by this shard and puts its subscriptions into routing. */
  adopt(s: Session): void {
    this.sessions.set(s.clientId, s);
    this.durability.owned(s, true);
    for (const sub of s.subs.values()) this.routing.add(sub);
  }

  /** A claim completed for a connection that is gone: keep its persistent session, offline. */
  adoptOffline(clientId: string, token: number, state: Buffer | null): void {
    if (state === null) { this.registry.release(clientId, token); return; }
    const s = decodeSession(clientId, state, parseFilter);
    s.token = token;
    if (!s.persistent) { this.registry.release(clientId, token); return; }
    this.guardOffline(s);
    this.adopt(s);
    this.offline(s, Date.now());
  }

  /**
   * Another connection takes this session: close ours (0x8E), unhook the session, hand it on.
   * `ghostTo` ≥ 0: the session moves to that shard; its routes stay as a forwarding ghost (moves.ts).
   */
  detach(s: Session, reason: number, cleanStart: boolean, ghostTo = -1, ghostToken = 0): void {
    const c = s.conn;
    if (c !== null) {
      s.conn = null;
      c.session = null;
      s.mayTakeAgain();
      // The old connection ends without DISCONNECT: its will goes out unless the session
      // continues and the will is delayed [MQTT-3.1.3-9].
      if (s.will !== null && (s.will.delayMs === 0 || cleanStart)) this.publishWill(s);
      if (this.shard.hooks.has.onDisconnect) disconnected(this.shard, c, !cleanStart, true);
      c.disconnect(reason);
    } else {
      this.shard.stats.add(this.shard.id, Stat.SESSIONS_OFFLINE, -1);
      if (cleanStart && s.will !== null && s.willTimer !== null) this.publishWill(s);
    }
    s.clearTimers();
    if (cleanStart) inflightDropped(this.shard, s);
    // A ghost keeps its plain subscriptions routed; shared ones go (another member can take them).
    // NODE_GHOST: a ghost for a move between nodes (worker/cluster/node-moves.ts).
    for (const sub of s.subs.values()) if ((ghostTo < 0 && ghostTo !== NODE_GHOST) || sub.group !== null) this.routing.remove(sub);
    if (ghostTo >= 0) this.moves.leave(s, ghostTo, ghostToken);
    this.forget(s);
  }

  /** The session's connection closed (not at shutdown): end the session or keep it offline. */
  connectionClosed(conn: Connection, s: Session): void {
    if (conn.disconnectNormal && !conn.willOnDisconnect) s.will = null; // [MQTT-3.1.2-10]
    if (s.expiryInterval === 0) {
      if (s.will !== null) this.publishWill(s);
      this.end(s);
      return;
    }
    if (s.will !== null) {
      if (s.will.delayMs === 0) this.publishWill(s);
      else this.scheduleWill(s, this.willDelay(s));
    }
    this.offline(s, Date.now());
  }

  /** A will waits for its delay, but never beyond the session's end [MQTT-3.1.3-9]. */
  private willDelay(s: Session): number {
    const d = s.will!.delayMs;
    return s.expiryInterval === NEVER_EXPIRES ? d : Math.min(d, s.expiryInterval * 1000);
  }

  private scheduleWill(s: Session, ms: number): void {
    s.willTimer = setLongTimeout(() => { s.willTimer = null; this.publishWill(s); }, ms);
  }

  private offline(s: Session, since: number): void {
    s.disconnectedAt = since;
    const sh = this.shard;
    sh.stats.add(sh.id, Stat.SESSIONS_OFFLINE, 1);
    if (s.expiryInterval !== NEVER_EXPIRES) {
      const left = Math.max(0, since + s.expiryInterval * 1000 - Date.now());
      s.expiryTimer = setLongTimeout(() => {
        s.expiryTimer = null;
        sh.stats.add(sh.id, Stat.SESSIONS_OFFLINE, -1);
        if (s.expiryBounded) this.limitHit(Stat.LIMIT_SESSION_EXPIRY, 'persistent-client-expiration', { client: s.clientId, seconds: s.expiryInterval }, 'session ended: --persistent-client-expiration reached offline');
        if (sh.hooks.has.onClientExpired) sh.hooks.notify('onClientExpired', sh.log, s.clientId);
        this.end(s);
      }, left);
    }
    this.persist(s);
  }

  /** The session is over: its will (if still pending) goes out, its state is deleted. */
  end(s: Session): void {
    if (s.willTimer !== null && s.will !== null) this.publishWill(s);
    s.clearTimers();
    inflightDropped(this.shard, s);
    for (const sub of s.subs.values()) this.routing.remove(sub);
    // Only a session that was persistent while owned here was ever written (counted).
    const stored = s.counted;
    this.forget(s);
    this.registry.release(s.clientId, s.token);
    if (stored) this.durability.track(this.store.deleteSession(s.clientId), 'delete session');
  }

  /** The session is no longer owned here. */
  private forget(s: Session): void {
    this.sessions.delete(s.clientId);
    this.durability.owned(s, false);
    this.shard.stats.add(this.shard.id, Stat.QUEUED, -(s.queued));
  }

  publishWill(s: Session): void {
    const w = s.will;
    if (w === null) return;
    s.will = null;
    if (s.willTimer !== null) { s.willTimer.clear(); s.willTimer = null; }
    // The ACL is asked when the will is sent, as Mosquitto does, with the session's own user
    // name also after a restart (guardOffline). A session without a guard under access control
    // (none is expected) does not send it, rather than unchecked. Hooks (onWill) see only an allowed will.
    if ((s.guard !== null && !s.guard.canPublish(w.topic)) || (s.guard === null && this.access() !== null)) {
      // rate limited as the other ACL denials: a client reconnecting in a loop with a denied will cannot flood the log
      this.limitHit(Stat.ACL_DENIED_WILL, 'acl-will', { client: s.clientId, topic: w.topic }, 'will not published: denied by the ACL');
    } else {
      const now = Date.now();
      const made = new Message(w.topic, w.payload, w.qos, w.retain, w.props, w.expiry >= 0 ? now + w.expiry * 1000 : 0, s.clientId);
      const msg = this.shard.hooks.has.onWill ? willOf(this.shard, s.clientId, made) : made;
      if (msg !== null) this.routing.publish(msg, now);
      if (msg !== null && this.shard.hooks.has.onWillSent) willSent(this.shard, s.clientId, msg);
    }
    // Sent: a restart must not send it again.
    if (s.persistent && s.conn === null && this.sessions.get(s.clientId) === s) this.persist(s);
  }

  persist(s: Session): void {
    if (!s.persistent) return;
    this.durability.track(this.store.putSession(toStoredSession(s)), 'put session');
  }

  /** A peer restarted: the sessions homed here that it owned come back from the store. */
  takeBackFrom(peer: number): void {
    for (const [id, o] of this.registry.owners) {
      if (o.shard === peer) { this.registry.owners.delete(id); this.adoptStored(id); }
    }
  }
}

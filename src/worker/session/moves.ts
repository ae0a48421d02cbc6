import { PubFlag } from '../protocol/publish-view.ts';
import { writeDirect, writeMove, type MoveReceiver } from './frames.ts';
import { Stat } from '../../shared/stats.ts';
import type { Message } from './message.ts';
import type { Session } from './session.ts';
import { Move, type Parked } from './move.ts';
import type { ShardContext } from '../context.ts';
import type { PeerLink } from '../peers/peers.ts';
import type { Delivery } from '../routing/delivery.ts';
import type { Routing } from '../routing/routing.ts';
import type { NodeMove } from '../cluster/node-moves.ts';
import type { MoveSideValue } from '../cluster/frames.ts';

/** What moves ask of the commit gate (durability.ts). */
export interface MoveGate {
  readonly enabled: boolean;
  /** A QoS 1/2 delivery of this turn is written (or committed) elsewhere later: the turn's acks wait. */
  countForward(): void;
  /** A COMMIT_BARRIER to `peer`; resolves with its answer, true when lost. */
  chain(peer: number): Promise<boolean>;
}

/** What moves between nodes add (worker/cluster/node-moves.ts; null on a node without a cluster). */
export interface NodeMovesHook {
  active(): boolean;
  settled(): Promise<boolean>;
  divert(nm: NodeMove, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null): boolean;
  onMark(side: MoveSideValue, shard: number, token: number, clientId: string, sender: string): void;
}

/** A move waits for every peer however busy: a barrier that gave up early could lose messages. */
const MOVE_BARRIER_MS = 30_000;

/**
 * Lossless session moves. Without them, messages already on their way to the old shard, or
 * published before every shard had the new route, were dropped during a takeover.
 *
 * 1. Old shard X hands the session over (SESSION) and keeps its subscriptions routed as a ghost.
 * 2. New shard Y adopts it, announces its routes and, after a barrier (every peer has applied
 *    them), sends MOVE_READY to X. From then on every shard also sends the topics to Y.
 * 3. X runs a barrier of its own: when every peer has answered, everything sent to X before
 *    the peers knew Y's routes has reached the ghost and been forwarded. X drops the ghost's
 *    routes and sends MOVE_DONE to Y (FIFO: after the last DIRECT).
 * 4. Y delivers forwarded messages at once and parks what its own routes bring; at MOVE_DONE it
 *    releases the parked ones above the floors. Per publisher, the forwarded ones are a prefix of
 *    its stream and the parked ones a suffix, so publish order is kept. Copies of forwarded
 *    messages can still be on their way to Y through its own routes; they are dropped by the
 *    floors until a last barrier proves none is left.
 */
export class Moves implements MoveReceiver {
  private readonly shard: ShardContext;
  private readonly peers: PeerLink;
  /** The sessions this shard owns. */
  private readonly sessions: ReadonlyMap<string, Session>;
  private readonly delivery: Pick<Delivery, 'deliverNow'>;
  private readonly routing: Pick<Routing, 'remove'>;
  private readonly gate: MoveGate;
  /** Ghosts on this shard by client id. */
  private readonly ghosts = new Map<string, Session>();
  /** Claims of this shard that were superseded while a ghost forwarded to them: token → next hop. */
  private readonly relays = new Map<number, { shard: number; token: number }>();
  /**
   * Commit barriers (durability.ts) see through moves. Shards this one forwarded QoS 1/2 DIRECT
   * frames to since its last chained commit barrier to them (a bit each), those chains while
   * unanswered, the moves arriving here (they park what their own routes bring) and the commit
   * barriers waiting for some of those to release what they parked.
   */
  private dirty = 0;
  private readonly chains: (Promise<boolean> | null)[];
  private pendingChains = 0;
  private readonly arriving = new Set<Move>();
  private parkedWaiters: { moves: Set<Move>; done: () => void }[] = [];
  /** Sessions moving between nodes (set by the wiring on a cluster node). */
  nodes: NodeMovesHook | null = null;

  constructor(shard: ShardContext, peers: PeerLink, sessions: ReadonlyMap<string, Session>, delivery: Pick<Delivery, 'deliverNow'>,
    routing: Pick<Routing, 'remove'>, gate: MoveGate) {
    this.shard = shard;
    this.peers = peers;
    this.sessions = sessions;
    this.delivery = delivery;
    this.routing = routing;
    this.gate = gate;
    this.chains = new Array<Promise<boolean> | null>(shard.count).fill(null);
  }

  /** A commit barrier has more to wait for than this shard's own commit. */
  active(): boolean { return this.dirty !== 0 || this.pendingChains > 0 || this.arriving.size > 0 || (this.nodes !== null && this.nodes.active()); }

  /**
   * For a commit barrier received now: settles once what arrived before it is written or
   * forwarded, and committed wherever it was forwarded to; true when a shard on the way crashed
   * first (lost). Parked messages are released at their move's MOVE_DONE (they are written then);
   * DIRECT frames are covered by a COMMIT_BARRIER of our own to their shard (FIFO rings), whose
   * answer covers their further moves in turn. `chained`: the barrier is such a chain itself; it
   * waits only for chains it starts, never for older ones (two shards whose sessions move to
   * each other would otherwise wait for each other).
   */
  async committed(chained: boolean, parkedWaitMs: number): Promise<boolean> {
    const parking = new Set<Move>();
    for (const m of this.arriving) if (m.parked.length > 0) parking.add(m);
    if (parking.size > 0) await this.released(parking, parkedWaitMs);
    const sh = this.shard;
    const waits: Promise<boolean>[] = [];
    for (let i = 0; i < sh.count; i++) {
      if ((this.dirty & (1 << i)) !== 0) {
        const p = this.gate.chain(i);
        if (this.chains[i] === null) this.pendingChains++;
        this.chains[i] = p;
        const done = (): void => { if (this.chains[i] === p) { this.chains[i] = null; this.pendingChains--; } };
        p.then(done, done);
        waits.push(p);
      } else if (!chained && this.chains[i] !== null) waits.push(this.chains[i]!);
    }
    this.dirty = 0;
    // Moves between nodes: what they hold or parked is forwarded and confirmed, or released and written.
    if (this.nodes !== null && this.nodes.active()) waits.push(this.nodes.settled());
    if (waits.length === 0) return false;
    return (await Promise.all(waits)).some(Boolean);
  }

  private released(moves: Set<Move>, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const w = { moves, done: (): void => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.parkedWaiters = this.parkedWaiters.filter((x) => x !== w);
        this.shard.log.warn('commit barrier: a session move did not release what it parked in time; answering anyway');
        resolve();
      }, timeoutMs);
      timer.unref();
      this.parkedWaiters.push(w);
    });
  }

  /** The move is no longer arriving (what it parked is released, or dropped with its session). */
  private landed(m: Move): void {
    if (!this.arriving.delete(m) || this.parkedWaiters.length === 0) return;
    const left: { moves: Set<Move>; done: () => void }[] = [];
    for (const w of this.parkedWaiters) {
      w.moves.delete(m);
      if (w.moves.size === 0) w.done(); else left.push(w);
    }
    this.parkedWaiters = left;
  }

  /** X: `s` was handed to `to` under `token`; keep its plain subscriptions routed, forwarding. */
  leave(s: Session, to: number, token: number): void {
    const old = this.ghosts.get(s.clientId);
    if (old !== undefined) this.retire(old); // a second move before the first finished (rare)
    // Still arriving itself: what the older ghost forwards is passed on as it comes (it is the
    // oldest), and what this shard parked follows at that ghost's MOVE_DONE (see onDone).
    const m = s.moving ?? new Move();
    m.to = to;
    m.toToken = token;
    m.ready = false;
    s.moving = m;
    s.mayTakeAgain();
    this.ghosts.set(s.clientId, s);
    if (s.persistent && !m.counted) { m.counted = true; this.shard.stats.add(this.shard.id, Stat.PERSISTENT_SESSIONS, 1); }
  }

  /** Y: the session arrived from a ghost (at `ghostShard`, forwarding under `ghostToken`). */
  arrive(s: Session, ghostShard: number, ghostToken: number): void {
    const m = new Move();
    m.from = ghostShard;
    m.fromToken = ghostToken;
    m.floor = new Array<number>(this.shard.count).fill(-1);
    s.moving = m;
    s.mayTakeAgain();
    this.arriving.add(m);
    // Routes first: once every peer has applied them, the ghost can stop.
    this.peers.barrier(() => this.send(false, ghostShard, ghostToken, s.clientId), MOVE_BARRIER_MS);
  }

  /** A state with a ghost was dropped (clean start): let the ghost go at once. */
  abandon(ghostShard: number, ghostToken: number, clientId: string): void {
    this.send(false, ghostShard, ghostToken, clientId);
  }

  /** A claim of ours was superseded while its session was in flight from a ghost: pass on. */
  relay(token: number, shard: number, newToken: number): void { this.relays.set(token, { shard, token: newToken }); }

  /**
   * Delivery hook (Delivery.deliverTo calls it when `s.moving` is set): true when the message
   * was parked, forwarded or dropped as a duplicate instead of delivered here.
   */
  divert(s: Session, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null): boolean {
    const m = s.moving!;
    if (m.node !== null) return this.nodes !== null && this.nodes.divert(m.node, msg, qos, retain, subIds);
    if (m.from >= 0) {
      m.parked.push({ msg: msg.detach(), qos, retain, subIds });
      // Written when released: an ack given in this turn waits for that (Durability.seal).
      if (qos !== 0) this.gate.countForward();
      return true;
    }
    if (isDuplicate(m, msg)) return true;
    if (m.to >= 0) {
      this.forward(m.to, m.toToken, s.clientId, msg, qos, retain, subIds);
      return true;
    }
    return false;
  }

  private forward(to: number, token: number, clientId: string, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null): void {
    const sh = this.shard;
    if (qos !== 0 && to !== sh.id && this.gate.enabled) {
      this.dirty |= 1 << to;
      this.gate.countForward(); // an ack given in this turn waits for the new owner's commit
    }
    writeDirect(this.peers.writer(), token, clientId, qos, retain, subIds, msg.src, msg.seq,
      msg.qos | (msg.retain ? PubFlag.RETAIN : 0), msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload);
    this.peers.commit(to);
  }

  /** DIRECT from a ghost: deliver to the arriving session, or pass it on to where it went. */
  onDirect(token: number, clientId: string, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null, msg: Message): void {
    const s = this.sessions.get(clientId);
    if (s !== undefined && s.token === token && s.moving !== null && s.moving.from >= 0) {
      raiseFloor(s.moving, msg);
      if (!msg.expired(Date.now())) this.delivery.deliverNow(s, msg, qos, retain, subIds);
      return;
    }
    const g = this.ghosts.get(clientId);
    if (g !== undefined && g.moving!.from >= 0 && g.moving!.fromToken === token) {
      // It moved on while arriving here: the older ghost's deliveries follow it.
      raiseFloor(g.moving!, msg);
      this.forward(g.moving!.to, g.moving!.toToken, clientId, msg, qos, retain, subIds);
      return;
    }
    const hop = this.relays.get(token);
    if (hop !== undefined) this.forward(hop.shard, hop.token, clientId, msg, qos, retain, subIds);
    // Otherwise the session was discarded (clean start) or has ended: nothing to deliver to.
  }

  /** X: the new owner's routes are known everywhere. */
  onReady(token: number, clientId: string): void {
    const g = this.ghosts.get(clientId);
    if (g === undefined || g.moving!.toToken !== token) return;
    g.moving!.ready = true;
    // A ghost that still receives from an older ghost waits for that one's MOVE_DONE.
    if (g.moving!.from < 0) this.peers.barrier(() => this.retire(g), MOVE_BARRIER_MS, true);
  }

  /** Y: the ghost is gone; release what was parked. */
  onDone(token: number, clientId: string): void {
    const hop = this.relays.get(token);
    if (hop !== undefined) { this.relays.delete(token); this.send(true, hop.shard, hop.token, clientId); return; }
    const sh = this.shard;
    const s = this.sessions.get(clientId);
    if (s !== undefined && s.moving !== null && s.moving.from >= 0 && s.moving.fromToken === token) {
      const m = s.moving;
      this.deliverParked(s, m);
      // Late copies through our own routes are dropped by the floors until every peer has
      // answered a barrier sent now: whatever a peer sent us before that is then handled.
      this.peers.barrier(() => { if (s.moving === m && m.to < 0) s.moving = null; }, MOVE_BARRIER_MS, true);
      return;
    }
    const g = this.ghosts.get(clientId);
    if (g !== undefined && g.moving!.from >= 0 && g.moving!.fromToken === token) {
      const m = g.moving!;
      m.from = -1;
      // What this shard parked goes after everything the older ghost forwarded, then live.
      for (const h of this.release(m)) this.forward(m.to, m.toToken, clientId, h.msg, h.qos, h.retain, h.subIds);
      this.landed(m);
      if (m.ready) this.peers.barrier(() => this.retire(g), MOVE_BARRIER_MS, true);
      return;
    }
    // The arriving session was dropped meanwhile (clean start, ended): what it parked goes with it.
    for (const m of this.arriving) {
      if (m.fromToken === token && m.from >= 0) { this.dropParked(m); break; }
    }
  }

  /** The arrival is over: the parked messages the ghost did not forward are delivered here. */
  private deliverParked(s: Session, m: Move): void {
    m.from = -1;
    for (const h of this.release(m)) this.delivery.deliverNow(s, h.msg, h.qos, h.retain, h.subIds);
    this.landed(m);
  }

  /** The arrival is over without its session: what it parked goes with it. */
  private dropParked(m: Move): void {
    m.from = -1;
    m.parked = [];
    this.landed(m);
  }

  /** The parked messages that the ghost did not forward (and have not expired), in arrival order. */
  private release(m: Move): Parked[] {
    const parked = m.parked;
    m.parked = [];
    const now = Date.now();
    return parked.filter((h) => !isDuplicate(m, h.msg) && !h.msg.expired(now));
  }

  /** The ghost's routes go; the new owner hears MOVE_DONE after every DIRECT. */
  private retire(g: Session): void {
    const m = g.moving;
    if (m === null) return;
    if (this.ghosts.get(g.clientId) === g) this.ghosts.delete(g.clientId);
    // routing.remove leaves alone a subscription that a newer session of the same id replaced.
    for (const sub of g.subs.values()) if (sub.group === null) this.routing.remove(sub);
    const to = m.to;
    m.to = -1;
    g.moving = null;
    if (m.counted) { m.counted = false; this.shard.stats.add(this.shard.id, Stat.PERSISTENT_SESSIONS, -1); }
    if (to >= 0) this.send(true, to, m.toToken, g.clientId);
  }

  private send(done: boolean, to: number, token: number, clientId: string): void {
    const sh = this.shard;
    if (to === sh.id) {
      if (done) this.onDone(token, clientId); else this.onReady(token, clientId);
      return;
    }
    writeMove(this.peers.writer(), done, token, clientId);
    this.peers.commit(to);
  }

  /** A peer restarted: ghosts forwarding to it and arrivals waiting on it are over. */
  peerRestarted(peer: number): void {
    for (const g of [...this.ghosts.values()]) if (g.moving!.to === peer) this.retire(g);
    const sh = this.shard;
    for (const s of this.sessions.values()) {
      const m = s.moving;
      if (m === null || m.from !== peer) continue;
      s.moving = null;
      this.deliverParked(s, m);
    }
    for (const m of [...this.arriving]) if (m.from === peer) this.dropParked(m);
    for (const [t, hop] of this.relays) if (hop.shard === peer) this.relays.delete(t);
  }
}

function raiseFloor(m: Move, msg: Message): void {
  const f = m.floor;
  if (f !== null && msg.src >= 0 && msg.seq > f[msg.src]!) f[msg.src] = msg.seq;
}

function isDuplicate(m: Move, msg: Message): boolean {
  const f = m.floor;
  return f !== null && msg.src >= 0 && msg.seq <= f[msg.src]!;
}

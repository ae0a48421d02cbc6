// A session moving between nodes, without losing or doubling what is on its way (docs/cluster.md,
// "Messages on their way during a move"). The session's state moves whole in the hand-over
// (ownership.ts); what this file adds is the cut through every publisher's stream.
//
// 1. The old node's shard keeps the session's plain subscriptions routed as a *ghost* (so the
//    cluster goes on sending it everything, without a gap) and holds what reaches it.
// 2. The new node's shard adopts the session, parks what its own routes bring, and, once its
//    peers have its routes, asks every node (its main, main/cluster/moves.ts) for markers. A
//    node's main waits until it has the new node's routes for the session's filters, then every
//    one of its shards puts a marker into its stream to each end of the move — on the same way
//    its messages take there (NATS subject, then ring), so behind everything it sent before.
// 3. Per sending shard, its messages before its marker went to the old node (the ghost route was
//    there all along; some went to the new node too), those after it to the new node (it had
//    the new routes when it marked). So: the ghost forwards what came before that sender's
//    marker and drops what came after; the new end drops its own copies that came before the
//    sender's marker and keeps those after. Each message reaches the session once, and per
//    publisher the forwarded part comes first: the new end delivers the forwarded ones at once
//    and its parked ones only once the ghost is done.
// 4. Once every expected marker is in, the ghost forwards (DIRECT over NATS), retires its routes
//    and asks the new end to confirm (MOVE_DONE, answered once written); the new end releases.
//
// A message's sending shard: the shard that relayed it from NATS names it (Message.sender, in
// the ring frame) while markers are about (link.ts); otherwise it is the ring it came from, or
// this shard. A relay made before its shard saw any marker has no name, but it is then also
// before that shard's own marker, in the ring it came through: before the cut either way.
//
// Acks: deliveries held or parked here keep the commit answers of this shard waiting (Moves
// hook) until they are forwarded and confirmed, or released and written; a move that ends by
// timeout or with a lost end answers "lost", so publishers resend rather than lose.
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { moveSubject } from '../../shared/cluster/names.ts';
import { senderKey, type MoveEnd, type MoveSenders, type NodeMoveId } from '../../shared/cluster/moves.ts';
import { Stat } from '../../shared/stats.ts';
import { TopicTrie } from '../../shared/topics/trie.ts';
import type { ShardContext } from '../context.ts';
import { FrameType } from '../peers/frames.ts';
import type { PeerLink } from '../peers/peers.ts';
import { PubFlag } from '../protocol/publish-view.ts';
import type { Delivery } from '../routing/delivery.ts';
import type { Routing } from '../routing/routing.ts';
import { readDirect, writeDirect, writeMove } from '../session/frames.ts';
import type { Message } from '../session/message.ts';
import { Move } from '../session/move.ts';
import type { Session } from '../session/session.ts';
import { MoveSide, writeNodeMark, type MarkReceiver, type MoveSideValue } from './frames.ts';

/** What node moves ask of the shard's NATS link (link.ts). */
export interface MoveLink {
  isUp(node: string): boolean;
  /** On this shard's data subject to `node` (behind the messages sent there before); false when not routed to. */
  toNode(node: string, frame: Uint8Array): boolean;
  publish(subject: string, data: Uint8Array): void;
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** To main: ask every node for its markers. */
  askMarks(move: NodeMoveId, filters: string[]): void;
}

export interface MoveParts {
  sessions: ReadonlyMap<string, Session>;
  delivery: Pick<Delivery, 'deliverNow'>;
  routing: Pick<Routing, 'remove'>;
  gate: { readonly enabled: boolean; countForward(): void };
  /** Resolves once this shard's store writes so far have committed. */
  flushed(): Promise<void>;
  peers: PeerLink;
}

interface Held { msg: Message; qos: 0 | 1 | 2; retain: boolean; subIds: number[] | null; sender: string; at: number }

/** One end of one move between nodes. */
export class NodeMove {
  readonly ghost: boolean;
  readonly s: Session;
  readonly clientId: string;
  /** The token this end knows the move by (the ghost: the hand-over's; the new end: its session's). */
  readonly token: number;
  /** The other end (the ghost learns it with the markers' request). */
  other: MoveEnd | null;
  held: Held[] = [];
  /** Deliveries held or parked so far: a marker's place among them. */
  count = 0;
  readonly marks = new Map<string, number>();
  expected: MoveSenders | null = null;
  /** The new end: the ghost is done (MOVE_DONE), or gone. */
  ghostDone = false;
  /** The new end: MOVE_DONE's answer, once what was released is written. */
  reply: ((ok: boolean) => void) | null = null;
  /** The new end: the filters that moved (what only a newer subscription matched is never the ghost's). */
  filters: TopicTrie<true> | null = null;
  finished = false;
  /** The new end: a forwarded delivery found the session gone. */
  lostDirect = false;
  timer: NodeJS.Timeout | null = null;
  settle: (lost: boolean) => void = () => {};
  readonly settled: Promise<boolean>;

  constructor(ghost: boolean, s: Session, token: number, other: MoveEnd | null) {
    this.ghost = ghost;
    this.s = s;
    this.clientId = s.clientId;
    this.token = token;
    this.other = other;
    this.settled = new Promise((resolve) => { this.settle = resolve; });
  }
}

const OK = 0;
const FAILED = 1;

function key(token: number, clientId: string): string { return `${token}:${clientId}`; }

export class NodeMoves implements MarkReceiver {
  private readonly ctx: ShardContext;
  private readonly parts: MoveParts;
  private readonly link: MoveLink;
  private readonly self: string;
  private readonly ghosts = new Map<string, NodeMove>();
  private readonly arrivals = new Map<string, NodeMove>();
  /** Moves whose commit answers are still due (finished ends wait for their confirmation). */
  private readonly unsettled = new Set<NodeMove>();
  private readonly w = new ByteWriter(4096);
  private readonly r = new ByteReader();
  /** How long an end waits for its markers and the other end before it gives up (then: lost). */
  readonly timeoutMs: number;

  constructor(ctx: ShardContext, parts: MoveParts, link: MoveLink) {
    this.ctx = ctx;
    this.parts = parts;
    this.link = link;
    this.self = ctx.config.clusterNodeId;
    this.timeoutMs = 3 * ctx.config.clusterTimeout;
  }

  // ---- the commit gate (Moves hooks) ----

  active(): boolean { return this.unsettled.size > 0; }

  /** Settles once every move now open has forwarded and confirmed, or released; true when one lost messages. */
  settled(): Promise<boolean> {
    return Promise.all([...this.unsettled].map((m) => m.settled)).then((l) => l.some(Boolean));
  }

  // ---- the old node ----

  /** The session left for another node under hand-over `token`; its plain subscriptions stay routed here (lifecycle.detach). */
  leave(s: Session, token: number): void {
    const nm = new NodeMove(true, s, token, null);
    this.open(nm, this.ghosts);
    if (s.persistent) this.ctx.stats.add(this.ctx.id, Stat.PERSISTENT_SESSIONS, 1); // peers send this shard commit barriers meanwhile
  }

  // ---- the new node ----

  /** The session arrived from the ghost `ghost`: park, and once the peers have its routes, ask for markers. */
  arrive(s: Session, ghost: MoveEnd): void {
    const nm = new NodeMove(false, s, s.token, ghost);
    const filters: string[] = [];
    nm.filters = new TopicTrie<true>();
    for (const sub of s.subs.values()) if (sub.group === null) { filters.push(sub.topicFilter); nm.filters.add(sub.topicFilter, '', true); }
    this.open(nm, this.arrivals);
    const id: NodeMoveId = { clientId: s.clientId, ghost, arrival: { node: this.self, shard: this.ctx.id, token: s.token } };
    this.parts.peers.barrier(() => { if (!nm.finished) this.link.askMarks(id, filters); }, this.timeoutMs);
  }

  /** The state from `ghost` was not kept here (clean start, or the session ended): the ghost can go. */
  abandon(ghost: MoveEnd, clientId: string): void {
    const w = this.w.reset();
    writeMove(w, false, ghost.token, clientId);
    this.link.publish(moveSubject(this.ctx.config.clusterName, ghost.node, ghost.shard), Buffer.from(w.buf.subarray(0, w.pos)));
  }

  private open(nm: NodeMove, map: Map<string, NodeMove>): void {
    const m = new Move();
    m.node = nm;
    nm.s.moving = m;
    nm.s.mayTakeAgain();
    map.set(key(nm.token, nm.clientId), nm);
    this.unsettled.add(nm);
    nm.timer = setTimeout(() => this.finish(nm, true), this.timeoutMs);
    nm.timer.unref();
  }

  /** Delivery hook (Moves.divert): the ghost holds, the new end parks; each with its sender and place. */
  divert(nm: NodeMove, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null): boolean {
    if (nm.finished) return false;
    const sender = msg.sender ?? (msg.src >= 0 ? senderKey(this.self, msg.src) : '');
    nm.held.push({ msg: msg.detach(), qos, retain, subIds, sender, at: nm.count++ });
    if (qos !== 0) this.parts.gate.countForward(); // this turn's acks wait for the move (active())
    return true;
  }

  // ---- markers ----

  /** From main: this shard marks its streams to both ends; an end also learns whom to expect. */
  mark(move: NodeMoveId, senders: MoveSenders): void {
    const me = senderKey(this.self, this.ctx.id);
    this.emit(MoveSide.GHOST, move.ghost, move.clientId, me);
    this.emit(MoveSide.ARRIVAL, move.arrival, move.clientId, me);
    for (const [side, end] of [[MoveSide.GHOST, move.ghost], [MoveSide.ARRIVAL, move.arrival]] as const) {
      if (end.node !== this.self || end.shard !== this.ctx.id) continue;
      const nm = (side === MoveSide.GHOST ? this.ghosts : this.arrivals).get(key(end.token, move.clientId));
      if (nm === undefined || nm.finished) continue;
      nm.expected = senders;
      if (side === MoveSide.GHOST) nm.other = move.arrival;
      this.check(nm);
    }
  }

  private emit(side: MoveSideValue, end: MoveEnd, clientId: string, sender: string): void {
    if (end.node === this.self) {
      if (end.shard === this.ctx.id) { this.onMark(side, end.shard, end.token, clientId, sender); return; }
      writeNodeMark(this.parts.peers.writer(), side, end.shard, end.token, clientId, sender);
      this.parts.peers.commit(end.shard);
      return;
    }
    const w = this.w.reset();
    writeNodeMark(w, side, end.shard, end.token, clientId, sender);
    this.link.toNode(end.node, Buffer.from(w.buf.subarray(0, w.pos)));
  }

  /** A marker, from NATS (then passed on in the ring to its shard, behind what this shard relayed before it) or from a ring. */
  onMark(side: MoveSideValue, shard: number, token: number, clientId: string, sender: string): void {
    if (shard !== this.ctx.id) {
      writeNodeMark(this.parts.peers.writer(), side, shard, token, clientId, sender);
      this.parts.peers.commit(shard);
      return;
    }
    const nm = (side === MoveSide.GHOST ? this.ghosts : this.arrivals).get(key(token, clientId));
    if (nm === undefined || nm.finished) return;
    if (!nm.marks.has(sender)) nm.marks.set(sender, nm.count);
    this.check(nm);
  }

  /** A node is down: nothing more comes from it; an end whose other end was there stops waiting for it. */
  nodeDown(node: string): void {
    for (const nm of [...this.ghosts.values(), ...this.arrivals.values()]) {
      if (nm.other?.node === node) {
        if (nm.ghost) { nm.other = null; this.finish(nm, true); continue; }
        nm.ghostDone = true;
      }
      this.check(nm);
    }
  }

  private check(nm: NodeMove): void {
    if (nm.finished || nm.expected === null || (!nm.ghost && !nm.ghostDone)) return;
    for (const node of Object.keys(nm.expected)) {
      if (node !== this.self && !this.link.isUp(node)) continue;
      for (let i = 0; i < nm.expected[node]!; i++) if (!nm.marks.has(senderKey(node, i))) return;
    }
    this.finish(nm, false);
  }

  /** Before its sender's marker (or with no marker from it: taken as before). */
  private beforeCut(nm: NodeMove, h: Held): boolean {
    const cut = nm.marks.get(h.sender);
    return cut === undefined || h.at < cut;
  }

  private finish(nm: NodeMove, timedOut: boolean): void {
    if (nm.finished) return;
    nm.finished = true;
    if (nm.timer !== null) clearTimeout(nm.timer);
    const s = nm.s;
    if (s.moving?.node === nm) s.moving = null;
    const held = nm.held;
    nm.held = [];
    const now = Date.now();
    if (timedOut) this.ctx.log.warn({ client: nm.clientId, ghost: nm.ghost, markers: nm.marks.size }, 'session move between nodes: not every marker came in time; the commit answers waiting for it fail (publishers resend)');
    if (nm.ghost) {
      this.ghosts.delete(key(nm.token, nm.clientId));
      // Every sender is past its marker: what comes now is the new node's. The routes go.
      for (const sub of s.subs.values()) if (sub.group === null) this.parts.routing.remove(sub);
      if (s.persistent) this.ctx.stats.add(this.ctx.id, Stat.PERSISTENT_SESSIONS, -1);
      const to = nm.other;
      if (to === null) { this.settleMove(nm, timedOut || held.some((h) => h.qos !== 0)); return; }
      const subject = moveSubject(this.ctx.config.clusterName, to.node, to.shard);
      for (const h of held) {
        if (!this.beforeCut(nm, h) || h.msg.expired(now)) continue;
        const m = h.msg;
        const w = this.w.reset();
        writeDirect(w, to.token, nm.clientId, h.qos, h.retain, h.subIds, -1, 0, m.qos | (m.retain ? PubFlag.RETAIN : 0), m.expiresAt, m.topic, m.origin, m.props, m.payload);
        this.link.publish(subject, Buffer.from(w.buf.subarray(0, w.pos)));
      }
      const w = this.w.reset();
      writeMove(w, true, to.token, nm.clientId);
      this.link.request(subject, Buffer.from(w.buf.subarray(0, w.pos)), this.ctx.config.clusterTimeout).then(
        (d) => this.settleMove(nm, timedOut || d[0] !== OK),
        () => this.settleMove(nm, true),
      );
      return;
    }
    this.arrivals.delete(key(nm.token, nm.clientId));
    let lost = nm.lostDirect;
    const reply = nm.reply;
    nm.reply = null;
    if (this.parts.sessions.get(nm.clientId) !== s) {
      // Taken over again (or ended) before its move was over: what it kept goes nowhere, so the
      // acks that waited for it fail and the publishers resend to where the session is now.
      this.settleMove(nm, lost || held.some((h) => h.qos !== 0) || reply !== null);
      reply?.(false);
      return;
    }
    for (const h of held) {
      const moved = nm.filters === null || this.matchesMoved(nm.filters, h.msg.topic);
      if (moved && this.beforeCut(nm, h)) { if (!nm.marks.has(h.sender) && h.qos !== 0) lost = true; continue; }
      if (!h.msg.expired(now)) this.parts.delivery.deliverNow(s, h.msg, h.qos, h.retain, h.subIds);
    }
    this.settleMove(nm, lost);
    if (reply !== null) this.parts.flushed().then(() => reply(!lost), () => reply(false));
  }

  private matchesMoved(filters: TopicTrie<true>, topic: string): boolean {
    let hit = false;
    filters.match(topic, () => { hit = true; });
    return hit;
  }

  private settleMove(nm: NodeMove, lost: boolean): void {
    this.unsettled.delete(nm);
    nm.settle(lost);
  }

  // ---- from the other end (NATS, this shard's move subject) ----

  /** DIRECT (from the ghost: deliver now), MOVE_DONE (the ghost is done: answer once released and written), MOVE_READY (the new end dropped the state). */
  received(data: Uint8Array, respond: (answer: Uint8Array) => void): void {
    const r = this.r.at(data, 0, data.length);
    const type = r.u8();
    if (type === FrameType.DIRECT) { readDirect(r, this); return; }
    const token = r.u32();
    const clientId = r.str();
    if (type === FrameType.MOVE_DONE) {
      const answer = (ok: boolean): void => respond(Uint8Array.of(ok ? OK : FAILED));
      const nm = this.arrivals.get(key(token, clientId));
      if (nm === undefined) { this.parts.flushed().then(() => answer(true), () => answer(false)); return; }
      nm.ghostDone = true;
      nm.reply = answer;
      this.check(nm);
      return;
    }
    if (type === FrameType.MOVE_READY) {
      const nm = this.ghosts.get(key(token, clientId));
      if (nm === undefined) return;
      nm.held = [];
      nm.other = null;
      this.finish(nm, false);
    }
  }

  /** A delivery the ghost forwarded: before every parked one of its publisher, so at once. */
  onDirect(token: number, clientId: string, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null, msg: Message): void {
    const s = this.parts.sessions.get(clientId);
    if (s === undefined || s.token !== token) {
      const nm = this.arrivals.get(key(token, clientId));
      if (nm !== undefined && qos !== 0) nm.lostDirect = true; // MOVE_DONE is then answered "failed"
      return;
    }
    if (msg.expired(Date.now())) return;
    this.parts.delivery.deliverNow(s, msg.detach(), qos, retain, subIds);
  }
}

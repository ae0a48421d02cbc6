// The cluster room, the shard's side (docs/cluster.md): this shard's own NATS connection, which
// carries the data path between nodes so that no message passes through main. It keeps the
// cluster route table (filter → node) that main passes on, forwards each message once per
// interested node as the binary PUBLISH frame shards already exchange, and hands what other
// nodes send it to routing as a publish of a local client.
//
// QoS 1/2: the publisher's ack waits (the commit gate, durable/durability.ts) for every node it
// went to. Per node and turn, after the turn's frames, one NODE_COMMIT request on the same
// subject (so after them, in order); the receiving shard answers once what they changed is
// committed there, its peer shards included (control/commit-wait.ts). No answer within
// --cluster-timeout (or a failed one) fails the gate: no ack, the publisher resends.
//
// Cut off from NATS, frames for other nodes and their acks wait in the hold (hold.ts) and go
// out in order once NATS is back; traffic no other node wants is acknowledged as without a cluster.
import { connect, errors as natsErrors, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { fromSubject, messageSubject, moveSubject, natsServers } from '../../shared/cluster/names.ts';
import type { NodeMoveId } from '../../shared/cluster/moves.ts';
import type { ClusterToShard, ControlFromShard } from '../../shared/control.ts';
import { TopicTrie } from '../../shared/topics/trie.ts';
import type { ShardContext } from '../context.ts';
import { waitForCommit, type GateParts } from '../control/commit-wait.ts';
import { FrameType } from '../peers/frames.ts';
import { PubFlag, PublishView, writePublish } from '../protocol/publish-view.ts';
import type { ForwardGate, NodeLink } from '../routing/routing.ts';
import type { Message } from '../session/message.ts';
import type { RetainedSync } from '../routing/retain-sync.ts';
import { ClusterRetained } from './retained.ts';
import { NodeShares } from './shares.ts';
import { Ownership, type HandOver, type NodesView } from './ownership.ts';
import { NODE_PUBLISH_FLAGS_AT, NODE_PUBLISH_HEAD, nodeKey, readNodeMark, writeNodePublishHead } from './frames.ts';
import { Hold } from './hold.ts';
import { Unconfirmed } from './window.ts';
import { ForwardLost, HeldOn, type Durability } from '../durable/durability.ts';
import { ClusterStat } from '../../shared/stats.ts';
import type { MoveLink, NodeMoves } from './node-moves.ts';

/** At most this many nodes (a bitmask per publish, as for shards). */
const MAX_NODES = 31;

interface NodeSlot {
  id: string;
  up: boolean;
  shards: number;
  subject: string;
  /** This turn's QoS 1/2 frames to it await one commit answer (settled by the NODE_COMMIT reply). */
  commit: Commit | null;
}

const COMMIT_FRAME = Uint8Array.of(FrameType.NODE_COMMIT);
const COMMITTED = 0;
const FAILED = 1;
/** A turn's commit answer awaited from one node slot; resolved with a HeldOn when NATS goes first (cut). */
interface Commit { slot: number; resolve: (v?: HeldOn) => void; reject: (e: Error) => void }

/** While frames are held: how often the acks' bound is checked and, connected, their commit asked for. */
const PROBE_MS = 250;

/** What a message from another node goes to: routing, as if a client of this shard published it. */
export interface NodeReceiver {
  fromNode(msg: Message, now: number, deliver: boolean, groups: readonly string[] | null): void;
  /** This node's shared groups (those with members on some shard here), by key. */
  readonly groups: ReadonlyMap<string, unknown>;
}

export class ClusterLink implements NodeLink, NodesView, MoveLink {
  private readonly ctx: ShardContext;
  get context(): ShardContext { return this.ctx; }
  private readonly post: (m: ControlFromShard) => void;
  private readonly receiver: NodeReceiver;
  /** The commit gate: a publisher's ack also waits for the nodes its message went to. */
  private readonly gate: ForwardGate & GateParts['durability'] & Pick<Durability, 'enabled' | 'sentToNode' | 'waitForNode'>;
  private readonly retained: ClusterRetained;
  private commitsDue = false;
  private readonly sendCommits = (): void => this.flushCommits();
  private nc: NatsConnection | null = null;
  /** nats.js has a live connection (false from its "disconnect" to its "reconnect"). */
  private connected = true;
  /** What other nodes want while NATS is away, with the acks waiting for it. */
  private readonly hold: Hold;
  /** QoS 1/2 frames handed to nats.js that no commit answer covers yet: held again if NATS goes (window.ts). */
  private readonly window: Unconfirmed;
  /** Commit requests out (connected path): failed as lost when NATS goes and their frames do not fit in the hold. */
  private readonly pending = new Set<Commit>();
  /** The retained bucket is being written and read again after a reconnect (syncRetained). */
  private retainedSyncing = false;
  /**
   * Per sender, the sequence number of its last frame routed here (NaN: none yet): a frame sent
   * again after an outage (PubFlag.RESENT) at or below it was routed already. Keyed by the
   * sender's node key, then shard, as NODE_PUBLISH names them (no subject decoded per frame).
   */
  private readonly lastSeq = new Map<number, Float64Array>();
  /** Node keys two known node ids share (frames.ts, nodeKey): their senders are keyed by subject. */
  private readonly sharedKeys = new Set<number>();
  private readonly lastSeqBySubject = new Map<string, number>();
  /** Known node ids by key, this node's own included: finds the keys two ids share. */
  private readonly keyOwner = new Map<number, string>();
  /** This shard's key in the NODE_PUBLISH head. */
  private readonly myKey: number;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private readonly probeFn = (): void => this.probe();
  private readonly slots: NodeSlot[] = [];
  private readonly slotOf = new Map<string, number>();
  /** Other nodes' filters; key: node id, value: its slot. */
  private readonly routes = new TopicTrie<number>();
  private readonly shares = new NodeShares(MAX_NODES);
  private upMask = 0;
  private mask = 0;
  private readonly collect = (slot: number): void => { this.mask |= 1 << slot; };
  private readonly w = new ByteWriter(4096);
  private readonly r = new ByteReader();
  private readonly view = new PublishView();
  /** Client-id ownership cluster-wide (the registry's CONNECT-time part). */
  readonly ownership: Ownership;
  /** Sessions moving between nodes (set by the wiring). */
  moves: NodeMoves | null = null;
  /** The data subjects end in the sender's node and shard: where that name starts. */
  private senderAt = 0;
  /**
   * Until then (ms; 0: not now) a message from another node is named by its sender as it is
   * routed on (Message.sender, node-moves.ts): from the moment this shard sees or makes a marker
   * of a move between nodes, for longer than a move can take. Otherwise nothing per message.
   */
  private annotateUntil = 0;

  constructor(ctx: ShardContext, post: (m: ControlFromShard) => void, receiver: NodeReceiver, gate: ClusterLink['gate'], retain: Pick<RetainedSync, 'set'>) {
    this.ctx = ctx;
    this.post = post;
    this.receiver = receiver;
    this.gate = gate;
    this.retained = new ClusterRetained(ctx, retain);
    this.ownership = new Ownership(ctx, this);
    this.window = new Unconfirmed(ctx.config.clusterHoldBytes);
    this.myKey = nodeKey(ctx.config.clusterNodeId);
    this.keyOwner.set(this.myKey, ctx.config.clusterNodeId);
    this.hold = new Hold({ ms: ctx.config.clusterHold, bytes: ctx.config.clusterHoldBytes }, (bytes, frames) => {
      ctx.stats.set(ctx.id, ClusterStat.HELD_BYTES, bytes);
      ctx.stats.set(ctx.id, ClusterStat.HELD_MESSAGES, frames);
    });
  }

  /**
   * Connects and subscribes to this shard's subject; resolves once NATS has the subscription.
   * `handOver` gives the sessions of ids homed on this shard to the nodes that claim them.
   */
  async start(handOver: HandOver): Promise<void> {
    const cfg = this.ctx.config;
    const nc = await connect({
      servers: natsServers(cfg.clusterNats), name: `shoal-${cfg.clusterNodeId}-shard-${this.ctx.id}`,
      maxReconnectAttempts: -1, reconnectTimeWait: 250,
    });
    this.nc = nc;
    const mine = messageSubject(cfg.clusterName, cfg.clusterNodeId, this.ctx.id);
    this.senderAt = mine.length + 1;
    nc.subscribe(`${mine}.>`, { callback: (err, m) => { if (err === null) this.received(m); } });
    nc.subscribe(moveSubject(cfg.clusterName, cfg.clusterNodeId, this.ctx.id), {
      callback: (err, m) => {
        if (err !== null || this.moves === null) return;
        try { this.moves.received(m.data, (a) => m.respond(a)); } catch (e) { this.ctx.log.warn({ err: e }, 'a session move frame from another node could not be read; dropped'); }
      },
    });
    await nc.flush();
    await this.retained.start(nc);
    await this.ownership.start(nc, handOver);
    void this.followStatus(nc);
  }

  /**
   * NATS lost: frames for other nodes are held from now on. Back (nats.js has resubscribed):
   * the held frames go out (probe), and the retained bucket is read again, retrying while
   * JetStream comes up.
   */
  private async followStatus(nc: NatsConnection): Promise<void> {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') {
        this.connected = false;
        this.cut();
        continue;
      }
      if (st.type !== 'reconnect') continue;
      this.connected = true;
      if (!this.hold.empty) this.probe();
      // Not awaited: a disconnect while the bucket is not back must still be seen at once
      // (awaited, the shard went on sending straight to nats.js, which discards it).
      if (!this.retainedSyncing) void this.syncRetained(nc);
    }
  }

  /** NATS is back: this shard's retained sets made meanwhile, then the bucket read again, retried while JetStream comes up. */
  private async syncRetained(nc: NatsConnection): Promise<void> {
    this.retainedSyncing = true;
    try {
      for (let attempt = 0; this.nc === nc && !nc.isClosed(); attempt++) {
        // This shard's sets made meanwhile first: the bucket read after them ends at them.
        try { await this.retained.flush(); await this.retained.start(nc); break; } catch (err) {
          if (attempt % 10 === 0) this.ctx.log.warn({ err }, 'retained bucket not back yet; trying again');
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally { this.retainedSyncing = false; }
  }

  /**
   * NATS went: what was sent since its last commit answer may be lost (nats.js's buffer, the
   * wire, the server) and goes into the hold, behind what was held before it (it was sent after
   * that), to go again when NATS is back; so does a probe's resend, which may have been in
   * nats.js's buffer. The acks that waited for those answers now wait for the hold's commit of
   * those frames (a HeldOn: on their connections alone, up to --cluster-hold), and the gate's
   * groups they were in go out at their own commits. Failing them (at once or at
   * --cluster-timeout) disconnected their publishers, which cannot reconnect without NATS
   * (0x88); waiting for the answers held every later local ack of the shard behind them. A
   * frame that does not fit in the hold fails the acks waiting then as lost (the QoS 2 ids
   * forgotten, so the resends are routed again).
   */
  private cut(): void {
    let overflow = false;
    this.window.take((slot, frames) => {
      for (const f of frames) if (!this.hold.add(slot, f)) overflow = true;
    });
    this.hold.restart();
    if (overflow) {
      const err = new ForwardLost('cut off from NATS with more unconfirmed than --cluster-hold-bytes');
      for (const c of this.pending) c.reject(err);
    } else {
      // A later answer or timeout of these requests settles nothing more (a promise settles once).
      const now = Date.now();
      for (const c of this.pending) c.resolve(new HeldOn(c.slot, this.hold.wait(c.slot, now)));
    }
    this.pending.clear();
    if (!this.hold.empty) this.startProbes(null);
  }

  async stop(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.stopProbes();
    for (const i of [...this.hold.held()]) this.hold.drop(i, new Error('the node is stopping'));
    this.retained.stop();
    this.ownership.stop();
    await nc?.drain().catch(() => {});
  }

  // ---- routing's side (NodeLink) ----

  routeChanged(add: boolean, filter: string): void {
    this.post({ type: 'cluster-local-route', add, filter });
  }

  shareChanged(key: string, count: number): void {
    this.post({ type: 'cluster-local-share', key, count });
  }

  sharedElsewhere(key: string, localTotal: number): boolean {
    return this.upMask !== 0 && this.shares.pick(key, localTotal, this.upMask);
  }

  wants(topic: string): boolean {
    if (this.upMask === 0) return false;
    this.mask = 0;
    this.routes.match(topic, this.collect);
    return (this.mask & this.upMask) !== 0 || this.shares.matches(topic);
  }

  forward(msg: Message): void {
    if (msg.retain) this.putRetained(msg);
    if (this.upMask === 0) return;
    if (this.nc === null) { this.shares.picked.fill(null); return; }
    this.mask = 0;
    this.routes.match(msg.topic, this.collect);
    if (this.shares.size !== 0) this.shares.pickRemoteOnly(msg.topic, this.receiver.groups, this.upMask);
    const mask = this.mask & this.upMask;
    const picked = this.shares.picked;
    const gated = msg.qos !== 0 && this.gate.enabled;
    const base = msg.qos | (msg.retain ? PubFlag.RETAIN : 0);
    let plain: Buffer | null = null; // the frame without groups, shared by every node that gets it
    for (let i = 0; i < this.slots.length; i++) {
      const groups = picked[i]!;
      const deliver = (mask & (1 << i)) !== 0;
      if (!deliver && groups === null) continue;
      picked[i] = null;
      let frame: Buffer;
      if (groups === null && plain !== null) frame = plain;
      else {
        const w = this.w.reset();
        writeNodePublishHead(w, this.myKey, this.ctx.id);
        writePublish(w, base | (deliver ? PubFlag.DELIVER : 0), msg.seq, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, groups);
        // nats.js queues the bytes it is given until its next flush: a copy of the writer's.
        frame = Buffer.from(w.buf.subarray(0, w.pos));
        if (groups === null) plain = frame;
      }
      const s = this.slots[i]!;
      if (!this.connected || this.hold.queues(i)) { this.holdFrame(i, frame, msg.qos, gated); continue; }
      this.nc.publish(s.subject, frame);
      if (!gated) continue;
      if (!this.window.sent(i, frame)) this.gate.refusedForward();
      this.gate.sentToNode(i);
      if (s.commit === null) this.awaitCommit(s, i);
    }
  }

  /**
   * Cut off from NATS (or still sending what was held, which this frame must follow): held, the
   * turn's acks waiting for it. Past --cluster-hold-bytes a QoS 1/2 turn is not acknowledged
   * (lostForward: its QoS 2 ids are forgotten so that the resend is routed again, since this
   * frame goes nowhere) and QoS 0 is dropped and counted.
   */
  private holdFrame(slot: number, frame: Buffer, qos: number, gated: boolean): void {
    if (!this.hold.add(slot, frame)) {
      if (qos === 0) this.ctx.stats.add(this.ctx.id, ClusterStat.HELD_DROPPED, 1);
      else this.gate.refusedForward();
      return;
    }
    if (gated) this.gate.waitFor(this.hold.wait(slot, Date.now()), true);
    this.startProbes(slot);
  }

  private startProbes(slot: number | null): void {
    if (this.probeTimer !== null) return;
    this.ctx.log.warn({ node: slot === null ? undefined : this.slots[slot]!.id, connected: this.connected }, 'cluster: holding frames for other nodes until NATS is back (--cluster-hold, --cluster-hold-bytes)');
    this.probeTimer = setInterval(this.probeFn, PROBE_MS);
    this.probeTimer.unref();
  }

  /**
   * Every PROBE_MS while something is held: acks held past --cluster-hold fail; connected, each
   * node's held frames go out in order, then one NODE_COMMIT request whose answer settles every
   * ack held before it. "No responders" (its shard has not resubscribed yet) holds them again.
   */
  private probe(): void {
    this.hold.expire(Date.now());
    if (this.nc !== null && this.connected) for (const i of [...this.hold.held()]) this.resend(i);
    this.holdEnded();
  }

  /** Sends what `slot` holds, after a first request that shows its node listens (hold.ts, reached). */
  private resend(i: number): void {
    const nc = this.nc;
    const a = nc !== null && this.connected ? this.hold.ask(i) : null;
    if (a === null) return;
    const s = this.slots[i]!;
    // Flagged: the node drops what it routed already (received, lastSeq). Set in place: a frame
    // shared by several nodes is sent again to each that holds it, and to none as a first copy.
    for (const f of a.frames) { f[NODE_PUBLISH_FLAGS_AT] = f[NODE_PUBLISH_FLAGS_AT]! | PubFlag.RESENT; nc!.publish(s.subject, f); }
    nc!.request(s.subject, COMMIT_FRAME, { timeout: this.ctx.config.clusterTimeout }).then(
      (m) => {
        if (a.check) { if (this.hold.answered(i, a.token)) this.resend(i); return; }
        if (m.data[0] === COMMITTED) this.hold.committed(i, a.token);
        else this.hold.failed(i, new Error(`node ${s.id} could not commit`), a.token);
        this.holdEnded();
      },
      (err: Error) => {
        // Nobody listens yet, or the check got no answer: held, asked again at the next probe.
        if (a.check || (err instanceof natsErrors.RequestError && err.isNoResponders())) this.hold.again(i, a.token);
        else this.hold.failed(i, err, a.token);
        this.holdEnded();
      },
    );
  }

  private holdEnded(): void {
    if (!this.hold.empty || this.probeTimer === null) return;
    this.stopProbes();
    this.ctx.log.warn('cluster: every held frame is at its node; no longer holding');
  }

  private stopProbes(): void {
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  /**
   * The ack waits until the cluster's bucket has it; a failed put fails the ack (the publisher
   * resends). Cut off from NATS (or still writing what waited for it), the write waits for NATS
   * and the ack does not (retained.ts, defer); past --cluster-hold-bytes it fails as before.
   */
  private putRetained(msg: Message): void {
    const later = !this.connected || this.retained.deferring;
    if (later && this.retained.defer(msg)) return;
    // Past the bound while writes wait, a put now could land before an older one of the topic.
    const p = later ? Promise.reject(new Error('retained writes waiting for NATS past --cluster-hold-bytes')) : this.retained.put(msg);
    p.catch((err: unknown) => this.ctx.log.warn({ err, topic: msg.topic }, 'retained message not stored in the cluster'));
    this.gate.waitFor(p);
  }

  /** The acks of this turn wait for `s`'s commit answer, asked for once the turn's frames are out. */
  private awaitCommit(s: NodeSlot, slot: number): void {
    this.gate.waitForNode(new Promise<HeldOn | undefined>((resolve, reject) => { s.commit = { slot, resolve, reject }; }));
    if (!this.commitsDue) { this.commitsDue = true; queueMicrotask(this.sendCommits); }
  }

  private flushCommits(): void {
    this.commitsDue = false;
    const timeout = this.ctx.config.clusterTimeout;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      const c = s.commit;
      if (c === null) continue;
      s.commit = null;
      if (this.nc === null) { c.reject(new Error('not connected to NATS')); continue; }
      const end = this.window.mark(i);
      const epoch = this.window.epoch;
      this.pending.add(c);
      this.nc.request(s.subject, COMMIT_FRAME, { timeout }).then(
        (m) => {
          this.pending.delete(c);
          // Answered, committed or not, the node had the frames: they are not sent again.
          this.window.confirmed(i, end, epoch);
          if (m.data[0] === COMMITTED) c.resolve(); else c.reject(new Error(`node ${s.id} could not commit`));
        },
        // No answer: the frames stay in the window (NATS may be going; a later answer trims them).
        (err: Error) => { this.pending.delete(c); c.reject(err); },
      );
    }
  }

  // ---- node moves' side (MoveLink) ----

  toNode(node: string, frame: Uint8Array): boolean {
    const slot = this.slotOf.get(node);
    if (slot === undefined || this.nc === null || !this.slots[slot]!.up) return false;
    this.nc.publish(this.slots[slot]!.subject, frame);
    return true;
  }

  publish(subject: string, data: Uint8Array): void { this.nc?.publish(subject, data); }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.nc === null) return Promise.reject(new Error('not connected to NATS'));
    return this.nc.request(subject, data, { timeout: timeoutMs }).then((m) => m.data);
  }

  askMarks(move: NodeMoveId, filters: string[]): void { this.post({ type: 'cluster-move', move, filters }); }

  private annotate(): void { this.annotateUntil = Date.now() + 5 * this.ctx.config.clusterTimeout; }

  isUp(node: string): boolean {
    const slot = this.slotOf.get(node);
    return slot !== undefined && this.slots[slot]!.up;
  }

  shardsOf(node: string): number {
    const slot = this.slotOf.get(node);
    return slot === undefined ? 0 : this.slots[slot]!.shards;
  }

  // ---- main's side ----

  apply(m: ClusterToShard): void {
    if (m.type === 'cluster-mark') {
      this.annotate(); // before this shard's own marker: see annotateUntil
      this.moves?.mark(m.move, m.senders);
      return;
    }
    if (m.type === 'cluster-node') {
      const slot = this.slotFor(m.node, m.shards);
      if (slot < 0) return;
      const s = this.slots[slot]!;
      s.up = m.up;
      if (m.up) this.upMask |= 1 << slot;
      else {
        this.upMask &= ~(1 << slot);
        // Down: its routes and members go; it announces them again when it is back.
        for (const f of [...this.routes.filters()]) this.routes.remove(f, s.id);
        this.shares.drop(slot);
        this.hold.drop(slot, new Error(`node ${m.node} is down`));
        this.window.drop(slot);
        this.moves?.nodeDown(m.node);
      }
      return;
    }
    if (m.type === 'cluster-share') {
      const slot = this.slotOf.get(m.node);
      if (slot !== undefined) this.shares.set(slot, m.key, m.count);
      return;
    }
    const slot = this.slotOf.get(m.node);
    if (slot === undefined) return;
    if (m.add) this.routes.add(m.filter, m.node, slot);
    else this.routes.remove(m.filter, m.node);
  }

  private slotFor(node: string, shards: number): number {
    // The target shard is fixed per sending shard, so one publisher's messages take one path.
    const cfg = this.ctx.config;
    const subject = fromSubject(cfg.clusterName, node, this.ctx.id % Math.max(1, shards), cfg.clusterNodeId, this.ctx.id);
    let slot = this.slotOf.get(node);
    if (slot === undefined) {
      if (this.slots.length >= MAX_NODES) { this.ctx.log.error({ node }, `more than ${MAX_NODES} nodes in the cluster: not routed to`); return -1; }
      slot = this.slots.length;
      this.slots.push({ id: node, up: false, shards, subject, commit: null });
      this.slotOf.set(node, slot);
      this.checkKey(node);
    } else { this.slots[slot]!.subject = subject; this.slots[slot]!.shards = shards; }
    return slot;
  }

  /** Two node ids with one key would share dedup state: their senders are keyed by subject instead. */
  private checkKey(node: string): void {
    const key = nodeKey(node);
    const owner = this.keyOwner.get(key);
    if (owner === undefined) { this.keyOwner.set(key, node); return; }
    if (owner === node || this.sharedKeys.has(key)) return;
    this.sharedKeys.add(key);
    this.ctx.log.warn({ node, other: owner }, 'cluster: two node ids share a sender key; their messages are deduplicated by subject');
  }

  /**
   * A sender's frames come in its order on one subject: one sent again after an outage with a
   * number not above the last one routed from there was routed already (the numbers wrap), and
   * is dropped (true); otherwise its number is the sender's last. `key` < 0: a bare PUBLISH,
   * keyed by its subject (as are node keys two known ids share).
   */
  private routedAlready(key: number, shard: number, seq: number, resent: boolean, m: Msg): boolean {
    const bySubject = key < 0 || (this.sharedKeys.size !== 0 && this.sharedKeys.has(key));
    let seqs = bySubject ? undefined : this.lastSeq.get(key);
    if (!bySubject && seqs === undefined) { seqs = new Float64Array(256).fill(NaN); this.lastSeq.set(key, seqs); }
    const last = seqs !== undefined ? seqs[shard]! : this.lastSeqBySubject.get(m.subject) ?? NaN;
    if (resent && last === last && ((seq - last) | 0) <= 0) return true; // NaN: none routed yet
    if (seqs !== undefined) seqs[shard] = seq;
    else this.lastSeqBySubject.set(m.subject, seq);
    return false;
  }

  // ---- from other nodes ----

  /** What the node sent before this request has been routed; answer once it is committed. */
  private answerCommit(m: Msg): void {
    waitForCommit({ durability: this.gate }).then(
      () => m.respond(Uint8Array.of(COMMITTED)),
      () => m.respond(Uint8Array.of(FAILED)),
    );
  }

  private received(m: Msg): void {
    const data = m.data;
    try {
      const r = this.r.at(data, 0, data.length);
      const type = r.u8();
      if (type === FrameType.NODE_COMMIT) { this.answerCommit(m); return; }
      if (type === FrameType.NODE_MARK) {
        this.annotate(); // what this shard relays from now on names its sender
        if (this.moves !== null) readNodeMark(r, this.moves);
        return;
      }
      // A bare PUBLISH: from a node of a build before NODE_PUBLISH (a rolling upgrade), keyed by subject.
      let key = -1;
      let shard = 0;
      if (type === FrameType.NODE_PUBLISH) {
        key = r.u32();
        shard = r.u8();
        if (r.u8() !== FrameType.PUBLISH || data.length <= NODE_PUBLISH_HEAD + 1) throw new RangeError('NODE_PUBLISH without its PUBLISH frame');
      } else if (type !== FrameType.PUBLISH) throw new RangeError(`frame type ${type} is not one nodes exchange`);
      const resent = (data[key < 0 ? 1 : NODE_PUBLISH_FLAGS_AT]! & PubFlag.RESENT) !== 0;
      const v = this.view.read(r, this.ctx.id);
      if (this.routedAlready(key, shard, v.seq, resent, m)) return;
      const now = Date.now();
      if (v.expiresAt !== 0 && v.expiresAt <= now) return;
      const msg = v.toMessage();
      if (this.annotateUntil !== 0) {
        if (now > this.annotateUntil) this.annotateUntil = 0;
        else msg.sender = m.subject.slice(this.senderAt);
      }
      this.receiver.fromNode(msg, now, (v.flags & PubFlag.DELIVER) !== 0, v.groups);
    } catch (err) {
      this.ctx.log.warn({ err, subject: m.subject }, 'a frame from another node could not be read; dropped');
    }
  }
}

// The routing room: where a message goes and how it gets there. routing.ts (this shard's
// subscriptions, the replicated route table, shared groups, forwarding one frame per interested
// shard), withdraw.ts (routes withdrawn while everyone on them would only drop), delivery.ts (to the sessions on this shard: encode once, flow control, queues),
// retain.ts and retain-sync.ts (the retained replica and its one order per topic), frames.ts
// (this room's frames between shards).
import { PubFlag, writePublish, writePublishWire } from '../protocol/publish-view.ts';
import { writeRoute, writeShare } from './frames.ts';
import { Stat } from '../../shared/stats.ts';
import { TopicTrie } from '../../shared/topics/trie.ts';
import type { Message } from '../session/message.ts';
import type { PublishView } from '../protocol/publish-view.ts';
import type { Subscription } from '../session/subscription.ts';
import type { ShardContext } from '../context.ts';
import type { PeerLink } from '../peers/peers.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Delivery } from './delivery.ts';
import type { RetainedSync } from './retain-sync.ts';
import { released, SUBSCRIPTION_BYTES } from '../net/reclaim.ts';
import { UntilReady } from './until-ready.ts';
import { RemoteRoute, Skips, Withdraws } from './withdraw.ts';

/**
 * What routing tells the commit gate (durability.ts) about a publish, so that its publisher's
 * ack waits for what the message changed elsewhere.
 */
export interface ForwardGate {
  /** The ack also waits for `p` (a retained set's commit at the topic's home shard); `long`: it may take seconds (durability.ts, releaseAround). */
  waitFor(p: Promise<void>, long?: boolean): void;
  /** A QoS 1/2 frame went to `peer`. */
  forwarded(peer: number): void;
  /** A QoS 1/2 message matched routes of a restarted peer whose sessions are not back yet. */
  lostForward(): void;
  /** A QoS 1/2 frame for another node was not kept (durability.ts). */
  refusedForward(): void;
  /** Resolves once `peer` has committed what this shard sent it so far (true: it crashed first). */
  committedAt(peer: number): Promise<boolean>;
}

/**
 * The other nodes of a cluster (worker/cluster/link.ts; null without one): told of this shard's
 * first / last subscriber per filter, and given every message a client of this shard published
 * to forward once per interested node.
 */
export interface NodeLink {
  routeChanged(add: boolean, filter: string): void;
  /** This shard's member count of a shared group changed (main adds up the node's). */
  shareChanged(key: string, count: number): void;
  /**
   * A shared group with `localTotal` members on this node matched a client's message: true when
   * the weighted pick over the nodes chose another node (it then goes there with `forward`).
   */
  sharedElsewhere(key: string, localTotal: number): boolean;
  /** Some up node has a route or a shared group member for `topic` (else a QoS 0 publish keeps the zero-copy path). */
  wants(topic: string): boolean;
  forward(msg: Message): void;
}

/** A shared subscription group ($share/group/filter) as one shard sees it. */
export class SharedGroup {
  readonly key: string;
  readonly group: string;
  readonly filter: string;
  readonly members: Subscription[] = [];
  readonly counts: Int32Array;       // member count per shard (own entry kept equal to members.length)
  next = 0;                          // round robin over the weighted shard choice
  nextMember = 0;
  constructor(key: string, group: string, filter: string, shards: number) {
    this.key = key;
    this.group = group;
    this.filter = filter;
    this.counts = new Int32Array(shards);
  }
  total(): number { let t = 0; for (let i = 0; i < this.counts.length; i++) t += this.counts[i]!; return t; }
}

export function shareKey(group: string, filter: string): string { return group + '\u0000' + filter; }

/**
 * Where messages go. `local` holds this shard's subscriptions (key: client id); `remote` is the
 * replicated route table (key: shard index) saying which other shards have at least one
 * subscriber per filter; shared groups keep per-shard member counts. A publish walks the
 * tables once and forwards one frame per interested shard, whatever its subscriber count.
 */
export class Routing {
  readonly local: TopicTrie<Subscription>;
  readonly remote = new TopicTrie<RemoteRoute>();
  /** This shard's withdrawn routes (Delivery asks it to consider one; sessions tell it when they may take again). */
  readonly withdraws: Withdraws;
  /** What the current match skipped because of other shards' withdrawn routes. */
  private readonly skips: Skips;
  /** Set by the first withdraw a peer announces: until then a match never looks at them. */
  private withdrawSeen = false;
  readonly sharedTrie = new TopicTrie<SharedGroup>();
  readonly groups = new Map<string, SharedGroup>();
  private readonly shard: ShardContext;
  private readonly peers: PeerLink;
  private readonly delivery: Pick<Delivery, 'deliverLocal' | 'deliverView' | 'deliverTo'>;
  private readonly gate: ForwardGate;
  private readonly retain: Pick<RetainedSync, 'set' | 'replica'>;
  private readonly shardKeys: string[];
  private mask = 0;
  /** Numbers this shard's publishes (a message's identity with the shard id; see moves.ts). */
  private seq = 0;
  /** Set at start when this node is one of a cluster. */
  nodes: NodeLink | null = null;
  /** Set when this shard told its peers something new (route or share count); cleared by the reader. */
  announced = false;
  private readonly groupTargets: (string[] | null)[];
  private readonly pickedGroups: SharedGroup[] = [];
  private readonly collectRemote = (r: RemoteRoute): void => { if (r.withdrawn === 0 || !this.skips.skip(r)) this.mask |= 1 << r.shard; };
  private readonly collectRouted = (r: RemoteRoute): void => { this.mask |= 1 << r.shard; };
  /**
   * Routes of restarted peers that owned persistent sessions, kept until the peer says it has
   * its sessions back (SYNC_DONE from it): until then a QoS 1/2 message that matches one finds
   * nobody to keep it for those sessions, so it waits for the peer (until-ready.ts), and its ack
   * with it. One that the peer's new routes match already went to it before the sessions came
   * back: its ack is withheld (Durability.lostForward), and the publisher resends.
   */
  private readonly stale = new TopicTrie<number>();
  private staleMask = 0;
  private staleHit = 0;
  private readonly collectStale = (shard: number): void => { this.staleHit |= 1 << shard; };
  private readonly untilReady: UntilReady;
  private readonly collectGroup = (g: SharedGroup): void => { this.pickedGroups.push(g); };

  /** `local`: this shard's subscriptions (Delivery matches the same trie). */
  constructor(shard: ShardContext, peers: PeerLink, local: TopicTrie<Subscription>, delivery: Pick<Delivery, 'deliverLocal' | 'deliverView' | 'deliverTo'>,
    gate: ForwardGate, retain: Pick<RetainedSync, 'set' | 'replica'>) {
    this.shard = shard;
    this.peers = peers;
    this.local = local;
    this.delivery = delivery;
    this.gate = gate;
    this.retain = retain;
    this.shardKeys = Array.from({ length: shard.count }, (_, i) => String(i));
    this.groupTargets = new Array(shard.count).fill(null);
    this.withdraws = new Withdraws(shard, local, peers);
    this.skips = new Skips(shard.count);
    this.untilReady = new UntilReady({
      forwardIfRouted: (msg, peer) => {
        this.mask = 0;
        this.remote.match(msg.topic, this.collectRouted);
        if ((this.mask & (1 << peer)) === 0) return false;
        this.mask = 1 << peer;
        this.forward(msg, false);
        return true;
      },
      committedAt: (peer) => gate.committedAt(peer),
    });
  }

  // ---- subscriptions of this shard's sessions ----

  add(sub: Subscription): void {
    const sh = this.shard;
    if (sub.group !== null) {
      const g = this.groupFor(sub.group, sub.topicFilter);
      const i = g.members.findIndex((m) => m.session === sub.session);
      if (i >= 0) g.members[i] = sub; else g.members.push(sub);
      this.setOwnCount(g);
    } else {
      const first = !this.local.hasFilter(sub.topicFilter);
      const added = this.local.add(sub.topicFilter, sub.session.clientId, sub);
      if (added) sh.stats.add(sh.id, Stat.SUBSCRIPTIONS, 1);
      if (first) this.broadcastRoute(true, sub.topicFilter);
      // Withdrawn for the others on it: sent again, and its SUBACK waits until the peers have it.
      else if (this.withdraws.changed(sub.topicFilter, false)) this.announced = true;
      return;
    }
    sh.stats.add(sh.id, Stat.SUBSCRIPTIONS, 1);
  }

  remove(sub: Subscription): void {
    const sh = this.shard;
    released(SUBSCRIPTION_BYTES, sh.log);
    if (sub.group !== null) {
      const g = this.groups.get(shareKey(sub.group, sub.topicFilter));
      if (g === undefined) return;
      const i = g.members.findIndex((m) => m.session === sub.session);
      if (i < 0) return;
      g.members.splice(i, 1);
      sh.stats.add(sh.id, Stat.SUBSCRIPTIONS, -1);
      this.setOwnCount(g);
      this.maybeDropGroup(g);
      return;
    }
    const cur = this.local.get(sub.topicFilter, sub.session.clientId);
    if (cur !== sub) return; // replaced by a newer subscription object, or gone
    this.local.remove(sub.topicFilter, sub.session.clientId);
    sh.stats.add(sh.id, Stat.SUBSCRIPTIONS, -1);
    const gone = !this.local.hasFilter(sub.topicFilter);
    this.withdraws.changed(sub.topicFilter, gone);
    if (gone) this.broadcastRoute(false, sub.topicFilter);
  }

  private groupFor(group: string, filter: string): SharedGroup {
    const key = shareKey(group, filter);
    let g = this.groups.get(key);
    if (g === undefined) {
      g = new SharedGroup(key, group, filter, this.shard.count);
      this.groups.set(key, g);
      this.sharedTrie.add(filter, key, g);
    }
    return g;
  }

  private setOwnCount(g: SharedGroup): void {
    const sh = this.shard;
    if (g.counts[sh.id] === g.members.length) return;
    g.counts[sh.id] = g.members.length;
    this.announced = true;
    if (this.nodes !== null) this.nodes.shareChanged(g.key, g.members.length);
    if (sh.count === 1) return;
    writeShare(this.peers.writer(), sh.id, g.key, g.members.length);
    this.peers.broadcast();
  }

  private maybeDropGroup(g: SharedGroup): void {
    if (g.members.length === 0 && g.total() === 0) {
      this.groups.delete(g.key);
      this.sharedTrie.remove(g.filter, g.key);
    }
  }

  private broadcastRoute(add: boolean, filter: string): void {
    const sh = this.shard;
    this.announced = true;
    if (this.nodes !== null) this.nodes.routeChanged(add, filter);
    if (sh.count === 1) return;
    writeRoute(this.peers.writer(), add, sh.id, filter);
    this.peers.broadcast();
  }

  // ---- updates from other shards ----

  applyRoute(add: boolean, shard: number, filter: string): void {
    if (add) this.remote.add(filter, this.shardKeys[shard]!, new RemoteRoute(shard));
    else this.remote.remove(filter, this.shardKeys[shard]!);
  }

  /** `shard` withdrew its route for `filter` for a QoS class, or sent it again (withdraw.ts). */
  applyWithdraw(shard: number, filter: string, cls: number, on: boolean, atQos0: number, full: number, room: number): void {
    const r = this.remote.get(filter, this.shardKeys[shard]!);
    if (r === undefined) return;
    r.apply(cls, on, atQos0, full, room, Date.now());
    if (on) this.withdrawSeen = true;
  }

  applyShare(shard: number, key: string, count: number): void {
    const sep = key.indexOf('\u0000');
    const g = this.groupFor(key.slice(0, sep), key.slice(sep + 1));
    g.counts[shard] = count;
    this.maybeDropGroup(g);
  }

  /** A shard restarted: everything it had announced is gone (`keep`: kept as stale until it is ready). */
  dropShard(shard: number, keep = false): void {
    const key = this.shardKeys[shard]!;
    for (const f of [...this.remote.filters()]) {
      if (this.remote.remove(f, key) && keep) this.stale.add(f, key, shard);
    }
    if (keep) this.staleMask |= 1 << shard;
    for (const g of [...this.groups.values()]) { g.counts[shard] = 0; this.maybeDropGroup(g); }
  }

  /** A restarted shard has its persistent sessions back and their routes announced. */
  peerReady(shard: number): boolean {
    if ((this.staleMask & (1 << shard)) === 0) return false;
    this.staleMask &= ~(1 << shard);
    const key = this.shardKeys[shard]!;
    for (const f of [...this.stale.filters()]) this.stale.remove(f, key);
    this.untilReady.ready(shard);
    return true;
  }

  /** Tell a (re)started shard about all of this shard's filters and group memberships. */
  syncTo(target: number): void {
    const sh = this.shard;
    for (const f of this.local.filters()) { writeRoute(this.peers.writer(), true, sh.id, f); this.peers.commit(target); }
    for (const g of this.groups.values()) {
      if (g.members.length > 0) { writeShare(this.peers.writer(), sh.id, g.key, g.members.length); this.peers.commit(target); }
    }
  }

  // ---- publishing ----

  /** A message published by a client of this shard (or by the broker itself). */
  publish(msg: Message, now: number): void {
    this.stamp(msg);
    if (msg.retain) this.gate.waitFor(this.retain.set(msg));
    this.route(msg, now);
    if (this.nodes !== null) this.nodes.forward(msg);
  }

  /**
   * A QoS 2 resend routed here before whose frame for another node was refused (Session.reforward):
   * to the other nodes only.
   */
  toNodes(msg: Message): void {
    this.stamp(msg);
    if (this.nodes !== null) this.nodes.forward(msg);
  }

  /** This shard as the message's source, with its next sequence number (receivers' order and resend dedup go by it). */
  private stamp(msg: Message): void {
    msg.src = this.shard.id;
    msg.seq = this.seq = (this.seq + 1) >>> 0;
  }

  /**
   * A message another node forwarded (worker/cluster): routed on this node as a client's
   * publish here (`deliver`: to its plain subscribers), but its retained set is the publishing
   * node's, it goes to no other node, and its shared groups were picked there: `groups` are
   * the ones that picked this node, each delivered to one member here.
   */
  fromNode(msg: Message, now: number, deliver: boolean, groups: readonly string[] | null): void {
    msg.src = this.shard.id;
    msg.seq = this.seq = (this.seq + 1) >>> 0;
    if (groups !== null) {
      for (const key of groups) {
        const g = this.groups.get(key);
        const target = g === undefined ? -1 : this.pickShard(g);
        if (target === this.shard.id) this.deliverShared(g!, msg, now);
        else if (target >= 0) {
          if (msg.qos !== 0) this.gate.forwarded(target);
          writePublish(this.peers.writer(), msg.qos, msg.seq, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, [key]);
          this.peers.commit(target);
        }
      }
    }
    if (deliver) this.route(msg, now, false);
  }

  /** To this node's shards: the route table, shared groups (unless another node picked them), local subscribers. */
  private route(msg: Message, now: number, withGroups = true): void {
    const sh = this.shard;
    this.mask = 0;
    if (sh.count > 1) this.matchRemote(msg.topic, msg.qos, msg.payload.length + msg.topic.length, now);
    if (this.staleMask !== 0 && msg.qos !== 0) {
      this.staleHit = 0;
      this.stale.match(msg.topic, this.collectStale);
      if (this.staleHit !== 0) {
        const wait = (this.staleHit & this.mask) === 0 ? this.untilReady.add(msg, this.staleHit) : null;
        if (wait === null) this.gate.lostForward(); else this.gate.waitFor(wait);
      }
    }
    this.pickedGroups.length = 0;
    if (withGroups) this.sharedTrie.match(msg.topic, this.collectGroup);
    let anyGroupRemote = false;
    for (let i = 0; i < this.pickedGroups.length; i++) {
      const g = this.pickedGroups[i]!;
      if (this.nodes !== null && this.nodes.sharedElsewhere(g.key, g.total())) continue;
      const target = this.pickShard(g);
      if (target === sh.id) this.deliverShared(g, msg, now);
      else if (target >= 0) { (this.groupTargets[target] ??= []).push(g.key); anyGroupRemote = true; }
    }
    if (sh.count > 1 && (this.mask !== 0 || anyGroupRemote)) this.forward(msg, anyGroupRemote);
    this.delivery.deliverLocal(msg, now);
  }

  /**
   * A QoS 0 message of a client of this shard still as its PUBLISH bytes (publish-view.ts):
   * forwarded as those bytes and delivered from them, a Message built only if something needs
   * one. With shared groups it takes the general path.
   */
  publishView(v: PublishView, now: number): void {
    // Shared groups and other nodes that want it take the general path (a Message to pick with or to forward).
    if (this.sharedTrie.size !== 0 || (this.nodes !== null && this.nodes.wants(v.topic))) { this.publish(v.toMessage(), now); return; }
    const sh = this.shard;
    v.seq = this.seq = (this.seq + 1) >>> 0;
    if (sh.count > 1) {
      this.mask = 0;
      this.matchRemote(v.topic, 0, 0, now);
      if (this.mask !== 0) {
        let written = false;
        for (let i = 0; i < sh.count; i++) {
          if (i === sh.id || (this.mask & (1 << i)) === 0) continue;
          if (written) { this.peers.resend(i); continue; }
          writePublishWire(this.peers.writer(), v.flags | PubFlag.DELIVER, v.seq, v.expiresAt, v.origin, v.props, null, v.buf, v.wireOff, v.wireLen);
          this.peers.commit(i);
          written = true;
        }
      }
    }
    this.delivery.deliverView(v, now);
  }

  /**
   * The route table into `mask`: the shards that want `topic`, less those whose every matching
   * route is withdrawn for a message of `qos` and `size` payload + topic bytes (counted as drops).
   */
  private matchRemote(topic: string, qos: number, size: number, now: number): void {
    if (this.withdrawSeen) this.skips.begin(qos, size, now);
    this.remote.match(topic, this.collectRemote);
    if (this.skips.mask !== 0) this.skips.count(this.mask, this.shard);
  }

  private forward(msg: Message, withGroups: boolean): void {
    const sh = this.shard;
    const base = msg.qos | (msg.retain ? PubFlag.RETAIN : 0);
    let shared: number = -1; // offset/len of a frame reusable for every plain target
    for (let i = 0; i < sh.count; i++) {
      if (i === sh.id) continue;
      const deliver = (this.mask & (1 << i)) !== 0;
      const groups = withGroups ? this.groupTargets[i]! : null;
      if (!deliver && groups === null) continue;
      const flags = base | (deliver ? PubFlag.DELIVER : 0);
      if (msg.qos !== 0) this.gate.forwarded(i);
      if (groups === null && shared === flags) {
        this.peers.resend(i);
        continue;
      }
      writePublish(this.peers.writer(), flags, msg.seq, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, groups, msg.sender);
      this.peers.commit(i);
      if (groups === null) shared = flags;
      else { this.groupTargets[i] = null; shared = -1; }
    }
  }

  /** Weighted choice of the shard that delivers to a shared group; -1 when the group has no members. */
  private pickShard(g: SharedGroup): number {
    const total = g.total();
    if (total === 0) return -1;
    let r = g.next++ % total;
    for (let i = 0; i < g.counts.length; i++) {
      r -= g.counts[i]!;
      if (r < 0) return i;
    }
    return -1;
  }

  /** One member of a shared group gets the message: online members first, round robin. */
  deliverShared(g: SharedGroup, msg: Message, now: number): boolean {
    const n = g.members.length;
    if (n === 0) return false;
    let pick: Subscription | null = null;
    for (let k = 0; k < n; k++) {
      const m = g.members[(g.nextMember + k) % n]!;
      const c = m.session.conn;
      if (m.guard !== null && !m.guard.canDeliver(msg.topic)) continue; // the ACL: a member that may not read it is passed over
      if (c !== null && c.state === ConnState.CONNECTED && !c.congested) { pick = m; g.nextMember = (g.nextMember + k + 1) % n; break; }
    }
    if (pick === null) {
      // Nobody online can take it now: queue with a persistent member rather than lose QoS 1/2.
      if (msg.qos === 0) return false;
      pick = g.members[g.nextMember++ % n]!;
      if (pick.guard !== null && !pick.guard.canDeliver(msg.topic)) return false;
    }
    const qos = pick.qos < msg.qos ? pick.qos : msg.qos;
    const ids = pick.subscriptionId !== 0 && pick.session.version === 5 ? [pick.subscriptionId] : null;
    void now;
    this.delivery.deliverTo(pick.session, msg, qos, pick.retainAsPublished && msg.retain, ids, false);
    return true;
  }

  /** A message forwarded by another shard. */
  fromPeer(msg: Message, flags: number, groups: string[] | null, now: number): void {
    const sh = this.shard;
    if ((flags & PubFlag.RETAIN_UPDATE) !== 0) this.retain.replica(msg);
    if (groups !== null) {
      for (const key of groups) {
        const g = this.groups.get(key);
        if (g !== undefined && this.deliverShared(g, msg, now)) continue;
        // The member left meanwhile: hand it to another shard that still has members.
        if (g !== undefined && msg.qos > 0) {
          for (let i = 0; i < sh.count; i++) {
            if (i !== sh.id && g.counts[i]! > 0) {
              writePublish(this.peers.writer(), msg.qos, msg.seq, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, [key]);
              this.peers.commit(i);
              break;
            }
          }
        }
      }
    }
    if ((flags & PubFlag.DELIVER) !== 0) this.delivery.deliverLocal(msg, now);
  }
}


import { Stat } from '../../shared/stats.ts';
import type { Message } from '../session/message.ts';
import type { PublishView } from '../protocol/publish-view.ts';
import { OutboundAliases } from '../protocol/topic-alias.ts';
import { encodePublish, encodePublishAt, packetIdOffset, packetLength, publishRemaining } from '../protocol/publish-codec.ts';
import type { Outbound, Session } from '../session/session.ts';
import type { Subscription } from '../session/subscription.ts';
import type { TopicTrie } from '../../shared/topics/trie.ts';
import type { ShardContext } from '../context.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Backpressure } from '../net/backpressure.ts';
import { mustWait, sendGated, sendWithIdGated, type CommitGate } from '../durable/gate.ts';
import { AckType, encodeAck } from '../protocol/acks.ts';
import { publishDropped, qosDropped, qosPublished } from '../hooks/lifecycle.ts';
import { dropsAtOnce, queueFull } from './drop-rules.ts';

/** What delivery asks of durability: store writes of persistent sessions' messages, and the gate. */
export interface DeliveryStore extends CommitGate {
  readonly enabled: boolean;
  readonly storeFull: boolean;
  putOutbound(s: Session, o: Outbound): void;
  deleteOutbound(s: Session, o: Outbound): void;
}

/** Withdraws routes whose subscribers would only drop (withdraw.ts). */
export interface DropRoutes {
  consider(topic: string, qos: number, size: number): void;
}

/** A session on the move takes its deliveries elsewhere (moves.ts): true when it took this one. */
export interface Diverter {
  divert(s: Session, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null): boolean;
}

/**
 * Gets messages to sessions: aggregates overlapping subscriptions, encodes once per variant of
 * a fan-out, applies flow control (Receive Maximum / in-flight window, socket backpressure)
 * and queues what cannot go now.
 */
export class Delivery {
  private readonly shard: ShardContext;
  private readonly local: TopicTrie<Subscription>;
  private readonly durability: DeliveryStore;
  /** Set by the wiring (moves.ts needs Delivery too). */
  moves: Diverter = NO_MOVES;
  /** Set by the wiring (Routing owns them); null: none (one shard). */
  withdraws: DropRoutes | null = null;
  private epoch = 0;
  /**
   * The sessions of the current match, in [0, matchedN): slots are overwritten and cleared,
   * never truncated (setting an array's length goes through V8's runtime, once per message).
   */
  private readonly matched: Session[] = [];
  private matchedN = 0;
  // What the subscription filter of the current match needs to know about the message.
  private fanoutTopic = '';
  private fanoutOrigin: string | null = '';
  private fanoutFrame: PublishView | null = null; // origin from here when fanoutOrigin is null
  private fanoutQos = 0;
  private fanoutRetain = false;
  private fanoutNow = 0;
  private readonly templates: (Buffer | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
  private readonly idOffsets: number[] = new Array(12).fill(0);

  readonly bp: Backpressure;

  /** `local`: this shard's subscriptions, as Routing keeps them. */
  constructor(shard: ShardContext, local: TopicTrie<Subscription>, durability: DeliveryStore, bp: Backpressure) {
    this.shard = shard;
    this.local = local;
    this.durability = durability;
    this.bp = bp;
  }

  /** Delivers `msg` to every local non-shared subscription matching its topic, once per session. */
  deliverLocal(msg: Message, now: number): void {
    this.collectFor(msg.topic, msg.origin, msg.qos, msg.retain);
    const matched = this.matched;
    const n = this.matchedN;
    if (n === 0) return;
    this.matchedN = 0;
    this.beginFanout(now);
    for (let i = 0; i < n; i++) {
      const s = matched[i]!;
      matched[i] = undefined as unknown as Session;
      this.deliverTo(s, msg, s.matchQos as 0 | 1 | 2, s.matchRetain, s.matchSubIds, true);
      s.matchSubIds = null;
    }
  }

  /**
   * A message forwarded by a peer shard for this shard's local subscribers, read in place from
   * the ring. A subscriber that takes it at QoS 0 as it is — v3.1/3.1.1, or v5 when the message
   * has no properties and no expiry and the subscription no identifier and the client no topic
   * aliases — gets the forwarded bytes copied straight into its output (only the retain flag
   * differs; v5 adds an empty property list). Anyone else (QoS > 0, queued, congested, moving,
   * held by the commit gate, too small a packet size) gets a Message built once, via deliverTo.
   */
  deliverView(f: PublishView, now: number): void {
    this.fanoutFrame = f;
    this.collectFor(f.topic, null, f.qos, f.retain);
    this.fanoutFrame = null;
    const matched = this.matched;
    const n = this.matchedN;
    if (n === 0) return;
    this.matchedN = 0;
    const plainV5 = f.props === null && f.expiresAt === 0;
    const size = f.wireOff + f.wireLen - f.payloadOff + f.topic.length;
    let msg: Message | null = null;
    let direct = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const s = matched[i]!;
      matched[i] = undefined as unknown as Session;
      const c = s.conn;
      if (s.matchQos === 0 && s.moving === null && c !== null && c.state === ConnState.CONNECTED &&
          s.queued === 0 && !c.congested && c.gated === 0) {
        const b0 = s.matchRetain ? 0x31 : 0x30;
        if (s.version !== 5) {
          if (c.clientMaxPacket === 0 || f.wireLen <= c.clientMaxPacket) { c.sendPatched(f.buf, f.wireOff, f.wireLen, b0); direct++; }
          s.matchSubIds = null;
          continue;
        }
        // The v5 form is one byte longer, or two when that crosses a Remaining Length size.
        if (plainV5 && s.matchSubIds === null && c.clientTopicAliasMax === 0 && (c.clientMaxPacket === 0 || f.wireLen + 2 <= c.clientMaxPacket)) {
          c.sendPatchedV5(f.buf, f.wireOff, f.wireLen, f.payloadOff, b0);
          direct++;
          continue;
        }
      }
      if (this.dropsAtOnce(s, s.matchQos, size)) { s.matchSubIds = null; dropped++; continue; }
      if (msg === null) { msg = f.toMessage(); this.beginFanout(now); }
      this.deliverTo(s, msg, s.matchQos as 0 | 1 | 2, s.matchRetain, s.matchSubIds, true);
      s.matchSubIds = null;
    }
    if (direct > 0) {
      // Sent from the frame as it came: QoS 0 (publish-view.ts carries only those).
      this.shard.stats.add(this.shard.id, Stat.MESSAGES_SENT, direct);
      this.shard.stats.add(this.shard.id, Stat.SENT_BY_QOS, direct);
    }
    // Everyone dropped it: its publishers' shards need not send such messages (withdraw.ts).
    if (dropped === n && this.withdraws !== null) this.withdraws.consider(f.topic, f.qos, size);
  }

  /**
   * `s` would drop a message of `size` payload + topic bytes at `qos` at once (deliverNow's drops
   * for a full queue): counted here, so a frame from a ring is not copied into a Message only to
   * be dropped. Beside a stalled subscriber that was two copies and allocations per message on
   * its shard. The rule is drop-rules.ts's; not when a hook wants to see the dropped message.
   */
  private dropsAtOnce(s: Session, qos: number, size: number): boolean {
    const sh = this.shard;
    if (sh.hooks.has.onPublishDropped || !dropsAtOnce(s, qos, size, sh.config)) return false;
    sh.stats.add(sh.id, qos === 0 ? Stat.DROPPED_QOS0 : Stat.DROPPED_QUEUE_FULL, 1);
    return true;
  }

  /** Collects the local sessions matching `topic` into `matched`, once each with its delivery QoS and retain flag. */
  private collectFor(topic: string, origin: string | null, qos: number, retain: boolean): void {
    this.epoch = (this.epoch + 1) | 0;
    this.fanoutTopic = topic;
    this.fanoutOrigin = origin;
    this.fanoutQos = qos;
    this.fanoutRetain = retain;
    // A flat array, not a visit callback per subscriber (trie.ts matchValues).
    const subs = this.local.matchValues(topic);
    for (let i = 0; i < subs.length; i++) this.collectSub(subs[i]!);
  }

  private collectSub(sub: Subscription): void {
    const s = sub.session;
    // Access control (auth/access.ts): only subscriptions whose ACL verdict was 'partial' (or
    // judged before a reload) carry a guard; the check is cached per (client, topic).
    if (sub.guard !== null && !sub.guard.canDeliver(this.fanoutTopic)) { this.shard.stats.add(this.shard.id, Stat.ACL_DENIED_DELIVERY, 1); return; }
    if (sub.noLocal && (this.fanoutOrigin ?? this.fanoutFrame!.origin) === s.clientId) return; // [MQTT-3.8.3-3]
    const qos = sub.qos < this.fanoutQos ? sub.qos : this.fanoutQos;
    // Retain As Published keeps the flag; otherwise normal delivery clears it [MQTT-3.3.1-12/13].
    const retain = sub.retainAsPublished && this.fanoutRetain;
    if (s.matchEpoch !== this.epoch) {
      s.matchEpoch = this.epoch;
      s.matchQos = qos;
      s.matchRetain = retain;
      s.matchSubIds = null;
      this.matched[this.matchedN++] = s;
    } else {
      if (qos > s.matchQos) s.matchQos = qos;
      if (retain) s.matchRetain = true;
    }
    if (sub.subscriptionId !== 0 && s.version === 5) (s.matchSubIds ??= []).push(sub.subscriptionId);
  }

  private beginFanout(now: number): void {
    this.fanoutNow = now;
    for (let i = 0; i < 12; i++) this.templates[i] = undefined;
  }

  /**
   * Hands one message to one session with the delivery QoS and retain flag already decided.
   * `shared` = the encode-once templates of the current fan-out may be used.
   */
  deliverTo(s: Session, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null, shared: boolean): void {
    if (s.moving !== null && this.moves.divert(s, msg, qos, retain, subIds)) return;
    this.deliverNow(s, msg, qos, retain, subIds, shared);
  }

  /** deliverTo without the session-move check (used by moves.ts itself). */
  deliverNow(s: Session, msg: Message, qos: 0 | 1 | 2, retain: boolean, subIds: number[] | null, shared = false): void {
    const conn = s.conn;
    // A client that takes topic aliases gets its own encoding: the alias map is per connection.
    if (conn !== null && conn.clientTopicAliasMax > 0) shared = false;
    const online = conn !== null && conn.state === ConnState.CONNECTED;
    const sh = this.shard;
    if (qos === 0) {
      if (!online) { if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, 0, 'offline'); return; } // QoS 0 is not queued for offline sessions (as Mosquitto's default)
      // Not congested, or congested and its source now waits for the drain (backpressure.ts):
      // the message goes to the socket, whose buffer is the queue (in order). A slow client
      // past the backlog bound (or one fed from a peer ring) gets the bounded session queue
      // below instead, which drops its oldest QoS 0 first, so the newest still arrive.
      if (s.queued === 0 && (!conn.congested || this.bp.admit(conn, Date.now()))) {
        const buf = shared && subIds === null ? this.template(msg, s.version, 0, retain) : this.encode(s, msg, 0, retain, false, 0, subIds);
        if (buf !== null && (conn.clientMaxPacket === 0 || buf.length <= conn.clientMaxPacket)) this.write(s, buf);
        else if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, 0, 'too-large');
        return;
      }
      if (s.queuedBytes >= sh.config.socketHighWater) this.bp.admit(conn, Date.now());
      if (s.qos0Held >= sh.config.maxQueuedQos0) {
        sh.stats.add(sh.id, Stat.DROPPED_QOS0, 1);
        // Full, for a slow client: the new message is dropped, not copied only to push out the
        // oldest (that copy per message was most of what a stalled QoS 0 subscriber cost its
        // publishers). Otherwise the oldest QoS 0 makes room, so the newest still arrive.
        if (online && conn.slow) { if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, 0, 'qos0-full'); return; }
        if (!this.dropOldestQos0(s)) return;
        sh.stats.add(sh.id, Stat.QUEUED, -1);
      }
      s.enqueue({ msg: msg.detach(), qos: 0, retain, subIds, packetId: 0, state: 0, seq: 0 });
      sh.stats.add(sh.id, Stat.QUEUED, 1);
      return;
    }
    if (online && !conn.congested && s.queued === 0 && s.inflight.size < this.window(s)) {
      const id = s.allocatePacketId();
      if (id !== 0) {
        // A fan-out's shared encoding, copied into the output with this delivery's id; or one of its own.
        const t = shared && subIds === null ? this.template(msg, s.version, qos, retain) : null;
        const buf = t !== null ? null : this.encode(s, msg, qos, retain, false, id, subIds);
        const len = t !== null ? t.length : buf !== null ? buf.length : -1;
        // Too large for this client: not sent at all [MQTT-3.1.2-25].
        if (len < 0 || (conn.clientMaxPacket !== 0 && len > conn.clientMaxPacket)) { if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, qos, 'too-large'); return; }
        const o: Outbound = { msg: msg.detach(), qos, retain, subIds, packetId: id, state: 1, seq: 0 };
        s.writableInflight().set(id, o);
        // Stored with its packet id before a QoS 2 PUBLISH leaves: a restart re-sends the same id.
        const stored = s.persistent && this.durability.enabled;
        if (stored) this.durability.putOutbound(s, o);
        const wait = stored && qos === 2;
        if (t !== null) {
          sendWithIdGated(this.durability, conn, t, this.idOffsets[(s.version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0)]!, id, wait);
          this.countSent(qos);
        } else this.write(s, buf!, wait);
        if (sh.hooks.has.onQosPublish) qosPublished(sh, s, o, false);
        return;
      }
    }
    const size = msg.payload.length + msg.topic.length;
    // Behind (socket congested, or its window full and a socket's worth queued): the source waits.
    if (online && (conn.congested || s.queuedBytes + size >= sh.config.socketHighWater)) this.bp.admit(conn, Date.now());
    while (queueFull(s, size, sh.config)) {
      // Make room by dropping QoS 0 first; a full queue of QoS 1/2 drops the new message.
      if (!this.dropOldestQos0(s)) {
        sh.stats.add(sh.id, Stat.DROPPED_QUEUE_FULL, 1);
        if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, qos, 'queue-full');
        return;
      }
      sh.stats.add(sh.id, Stat.DROPPED_QOS0, 1);
      sh.stats.add(sh.id, Stat.QUEUED, -1);
    }
    const stored = s.persistent && this.durability.enabled;
    if (stored && this.durability.storeFull) {
      sh.stats.add(sh.id, Stat.DROPPED_STORE_FULL, 1);
      if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, msg, qos, 'store-full');
      return;
    }
    const o: Outbound = { msg: msg.detach(), qos, retain, subIds, packetId: 0, state: 0, seq: 0 };
    s.enqueue(o);
    if (stored) this.durability.putOutbound(s, o);
    sh.stats.add(sh.id, Stat.QUEUED, 1);
  }

  /** Session.dropOldestQos0, telling onPublishDropped which message made room. */
  private dropOldestQos0(s: Session): boolean {
    if (!this.shard.hooks.has.onPublishDropped) return s.dropOldestQos0();
    const o = s.oldestQos0();
    if (o === undefined || !s.dropOldestQos0()) return false;
    publishDropped(this.shard, s, o.msg, 0, 'qos0-full');
    return true;
  }

  private window(s: Session): number {
    const c = s.conn;
    if (c === null) return 0;
    return s.version === 5 ? Math.min(c.clientReceiveMax, 65535) : this.shard.config.maxInflight;
  }

  /** `wait`: only after the store writes issued so far have committed (the commit gate). */
  private write(s: Session, buf: Buffer, wait = false): void {
    const c = s.conn!;
    sendGated(this.durability, c, buf, wait);
    // By QoS from the fixed header (bits 1-2); a PUBREL written here counts as no PUBLISH's.
    if ((buf[0]! & 0xf0) === 0x30) this.countSent((buf[0]! >> 1) & 3);
    else this.shard.stats.add(this.shard.id, Stat.MESSAGES_SENT, 1);
  }

  /** One PUBLISH sent at `qos`. */
  private countSent(qos: number): void {
    this.shard.stats.add(this.shard.id, Stat.MESSAGES_SENT, 1);
    this.shard.stats.add(this.shard.id, Stat.SENT_BY_QOS + qos, 1);
  }

  /**
   * Encodes `msg` for `s` (as encode() does) straight into its connection's output, without a
   * buffer of its own: SENT, or TOO_LARGE for the client's Maximum Packet Size. A packet that
   * waits for the commit gate, or a client that takes topic aliases, is NOT_IN_PLACE: the
   * caller encodes and writes it as before.
   */
  private sendInPlace(s: Session, msg: Message, qos: number, retain: boolean, id: number, subIds: number[] | null, wait: boolean): number {
    const c = s.conn!;
    const v5 = s.version === 5;
    if ((v5 && c.clientTopicAliasMax > 0) || mustWait(c, wait)) return NOT_IN_PLACE;
    const expiry = v5 && msg.expiresAt !== 0 ? msg.remainingExpiry(Date.now()) : -1;
    const props = v5 ? msg.props : null;
    const ids = v5 ? subIds : null;
    const rem = publishRemaining(msg.topic, msg.payload, qos, s.version, props, expiry, ids, 0, true);
    const n = packetLength(rem);
    if (c.clientMaxPacket > 0 && n > c.clientMaxPacket) return TOO_LARGE;
    const dst = c.claim(n);
    if (dst !== null) encodePublishAt(dst, c.outAt, rem, msg.topic, msg.payload, qos, retain, false, id, s.version, props, expiry, ids, 0);
    this.countSent(qos);
    return SENT;
  }

  private template(msg: Message, version: number, qos: number, retain: boolean): Buffer | null {
    const idx = (version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    let t = this.templates[idx];
    if (t === undefined) {
      const expiry = version === 5 && msg.expiresAt !== 0 ? msg.remainingExpiry(this.fanoutNow) : -1;
      t = encodePublish(msg.topic, msg.payload, qos, retain, false, 0, version, version === 5 ? msg.props : null, expiry, null, 0, true);
      this.templates[idx] = t;
      if (qos > 0) this.idOffsets[idx] = packetIdOffset(t);
    }
    return t;
  }

  private encode(s: Session, msg: Message, qos: number, retain: boolean, dup: boolean, id: number, subIds: number[] | null): Buffer | null {
    const v5 = s.version === 5;
    const expiry = v5 && msg.expiresAt !== 0 ? msg.remainingExpiry(Date.now()) : -1;
    const conn = s.conn;
    if (v5 && conn !== null && conn.clientTopicAliasMax > 0) {
      // Outbound Topic Alias: a known topic goes as alias only; a new one with its name and the
      // alias it takes, committed only when the packet fits the client's Maximum Packet Size.
      const aliases = conn.outboundAliases ??= new OutboundAliases(conn.clientTopicAliasMax);
      const known = aliases.get(msg.topic);
      const alias = known !== 0 ? known : aliases.candidate();
      const buf = encodePublish(msg.topic, msg.payload, qos, retain, dup, id, 5, msg.props, expiry, subIds, alias, known === 0);
      if (conn.clientMaxPacket > 0 && buf.length > conn.clientMaxPacket) return null;
      aliases.commit(msg.topic, alias);
      return buf;
    }
    const buf = encodePublish(msg.topic, msg.payload, qos, retain, dup, id, s.version, v5 ? msg.props : null, expiry, v5 ? subIds : null, 0, true);
    const max = s.conn?.clientMaxPacket ?? 0;
    return max > 0 && buf.length > max ? null : buf;
  }

  /** Sends queued messages while the window and the socket allow. */
  pump(s: Session): void {
    const conn = s.conn;
    if (conn === null || conn.state !== ConnState.CONNECTED) return;
    const sh = this.shard;
    const now = Date.now();
    const window = this.window(s);
    while (!conn.congested) {
      const o = s.peek();
      if (o === undefined) break;
      if (o.qos > 0 && s.inflight.size >= window) break;
      s.shift();
      sh.stats.add(sh.id, Stat.QUEUED, -1);
      if (o.msg.expired(now)) { // [MQTT-3.3.2-5]
        this.durability.deleteOutbound(s, o);
        sh.stats.add(sh.id, Stat.EXPIRED, 1);
        if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, o.msg, o.qos, 'expired');
        continue;
      }
      const id = o.qos === 0 ? 0 : s.allocatePacketId();
      // Stored with its packet id before a QoS 2 PUBLISH leaves (as in deliverNow).
      const wait = o.seq !== 0 && o.qos === 2;
      const sent = this.sendInPlace(s, o.msg, o.qos, o.retain, id, o.subIds, wait);
      const buf = sent === NOT_IN_PLACE ? this.encode(s, o.msg, o.qos, o.retain, false, id, o.subIds) : null;
      if (sent === TOO_LARGE || (sent === NOT_IN_PLACE && buf === null)) { if (sh.hooks.has.onPublishDropped) publishDropped(sh, s, o.msg, o.qos, 'too-large'); continue; }
      if (o.qos === 0) {
        if (buf !== null) this.write(s, buf);
        continue;
      }
      o.packetId = id;
      o.state = 1;
      s.writableInflight().set(id, o);
      if (o.seq !== 0) this.durability.putOutbound(s, o);
      if (buf !== null) this.write(s, buf, wait);
      if (sh.hooks.has.onQosPublish) qosPublished(sh, s, o, false);
      // socket.write's return value is checked at flush; stop early on a large backlog.
      if (conn.backlog() >= sh.config.socketHighWater) { conn.markCongested(now); break; }
    }
    if (conn.behindSince !== 0) this.bp.settle(conn, now);
  }

  /** On reconnect to an existing session: resend unacknowledged PUBLISH with DUP and PUBREL [MQTT-4.4.0-1], then the queue. */
  resume(s: Session): void {
    if (s.conn === null || s.conn.state !== ConnState.CONNECTED) return;
    for (const o of s.inflight.values()) {
      if (o.state === 2) {
        this.write(s, encodeAck(AckType.PUBREL, o.packetId, 0, s.version));
        continue;
      }
      // Sent once already: expiry no longer applies, the flow completes [MQTT-3.3.2-5] [MQTT-4.3.3-7].
      const buf = this.encode(s, o.msg, o.qos, o.retain, true, o.packetId, o.subIds);
      if (buf !== null) this.write(s, buf);
      if (buf !== null && this.shard.hooks.has.onQosPublish) qosPublished(this.shard, s, o, true);
    }
    this.pump(s);
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) ends a flow. */
  complete(s: Session, packetId: number, expectState: 1 | 2, expectQos: 1 | 2): boolean {
    const o = s.inflight.get(packetId);
    if (o === undefined || o.qos !== expectQos || o.state !== expectState) return false;
    s.writableInflight().delete(packetId);
    this.durability.deleteOutbound(s, o);
    this.pump(s);
    return true;
  }

  /** PUBREC: the client has the message; release it. A PUBREC with an error code ends the flow. */
  received(s: Session, packetId: number, failed: boolean): boolean {
    const o = s.inflight.get(packetId);
    if (o === undefined || o.qos !== 2) return false;
    if (failed) { s.writableInflight().delete(packetId); this.durability.deleteOutbound(s, o); if (this.shard.hooks.has.onQosDropped) qosDropped(this.shard, s, o); this.pump(s); return true; }
    if (o.state === 2) return true;
    o.state = 2;
    if (o.seq !== 0) this.durability.putOutbound(s, o);
    return true;
  }
}

const NO_MOVES: Diverter = { divert: () => false };

/** sendInPlace's answers. */
const SENT = 0;
const TOO_LARGE = 1;
const NOT_IN_PLACE = 2;

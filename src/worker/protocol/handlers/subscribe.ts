import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../../shared/errors.ts';
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import { parseSharedSubscription, validateTopicFilter } from '../../../shared/topics/validate.ts';
import { isValidMqttUtf8Bytes } from '../../../shared/protocol/utf8.ts';
import type { Connection } from '../../net/connection.ts';
import { AckType, encodeAck } from '../acks.ts';
import { sendPacketGated, sendSubackGated } from '../../durable/gate.ts';
import type { Subscription } from '../../session/subscription.ts';
import type { ClientGuard } from '../../auth/access.ts';
import { Stat } from '../../../shared/stats.ts';
import { topicWithinLimits } from './limits.ts';
import { interceptSubscribe, refusedByHook, subscribed, unsubscribing } from '../../hooks/subscribe.ts';
import { retainPublished } from '../../hooks/lifecycle.ts';

/**
 * Topic Filters of a SUBSCRIBE / UNSUBSCRIBE checked as raw bytes (mqtt-packet decodes them with
 * replacement characters): ill-formed UTF-8 or U+0000 is a Malformed Packet [MQTT-1.5.4-1]
 * [MQTT-1.5.4-2] [MQTT-3.8.3-1] [MQTT-3.10.3-1]. Call after the packet parsed.
 */
export function checkFilterBytes(buf: Buffer, off: number, len: number, version: number, subscribe: boolean): void {
  const end = off + len;
  let pos = off + 1;
  while ((buf[pos]! & 0x80) !== 0) pos++;
  pos += 1 + 2; // Remaining Length end, packet id
  if (version === 5) {
    let n = 0, mul = 1;
    for (let i = 0; i < 4; i++) { const b = buf[pos++]!; n += (b & 0x7f) * mul; mul *= 128; if ((b & 0x80) === 0) break; }
    pos += n;
  }
  while (pos + 2 <= end) {
    const n = buf.readUInt16BE(pos);
    if (!isValidMqttUtf8Bytes(buf, pos + 2, Math.min(pos + 2 + n, end))) throw new ProtocolError(Reason.MALFORMED_PACKET, 'Topic Filter is not valid UTF-8 [MQTT-3.8.3-1]');
    pos += 2 + n + (subscribe ? 1 : 0);
  }
}

/** SUBSCRIBE: one reason code per filter, then retained messages per Retain Handling [MQTT-3.8.4]. */
/** Filters in one (UN)SUBSCRIBE from which the client's next packets wait for the next turn. */
const YIELD_AFTER_FILTERS = 64;

export function handleSubscribe(conn: Connection, packet: mqttPacket.Packet): void {
  const sh = conn.shard;
  const p = packet as mqttPacket.ISubscribePacket;
  const s = conn.session!;
  if (p.subscriptions.length === 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'SUBSCRIBE without topic filters [MQTT-3.8.3-2]');
  const subId = p.properties?.subscriptionIdentifier;
  const subscriptionId = typeof subId === 'number' ? subId : 0;
  if (conn.version === 5 && subId !== undefined && (typeof subId !== 'number' || subId === 0)) {
    throw new ProtocolError(Reason.PROTOCOL_ERROR, 'subscription identifier 0');
  }
  if (sh.hooks.subscribes && interceptSubscribe(conn, p, handleSubscribe)) return;
  const cfg = sh.config;
  if (subId !== undefined && !cfg.subscriptionIdentifiers) {
    throw new ProtocolError(Reason.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, 'Subscription Identifiers are not supported (CONNACK said so)');
  }
  // A large SUBSCRIBE is a lot of work: the client's next packets wait a turn, so a client
  // sending 100,000 filters takes the shard in slices and others' packets go in between.
  if (p.subscriptions.length >= YIELD_AFTER_FILTERS) conn.yieldTurn();
  sh.routing.announced = false;
  const granted: number[] = [];
  let problem: string | undefined; // Reason String for the first refused filter (v5)
  const retainedFor: Subscription[] = [];
  const existed: boolean[] = [];
  for (const req of p.subscriptions) {
    if (sh.hooks.subscribes && refusedByHook(p, p.subscriptions.indexOf(req), granted, conn.version)) continue;
    const filter = req.topic;
    let topicFilter = filter;
    let group: string | null = null;
    const shared = parseSharedSubscription(filter);
    if (typeof shared === 'string') { granted.push(conn.version === 5 ? Reason.TOPIC_FILTER_INVALID : 0x80); problem ??= `${filter}: ${shared}`; continue; }
    if (shared !== null && !cfg.sharedSubscriptions) {
      granted.push(conn.version === 5 ? Reason.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED : 0x80);
      continue;
    }
    if (shared !== null) {
      topicFilter = shared.filter;
      group = shared.group;
      if (req.nl && conn.version === 5) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'No Local on a shared subscription [MQTT-3.8.3-4]');
    } else if (validateTopicFilter(filter) !== null) {
      granted.push(conn.version === 5 ? Reason.TOPIC_FILTER_INVALID : 0x80);
      problem ??= `${filter}: ${validateTopicFilter(filter)}`;
      continue;
    }
    if (!cfg.wildcardSubscriptions && /[+#]/.test(topicFilter)) {
      granted.push(conn.version === 5 ? Reason.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED : 0x80);
      continue;
    }
    const v5 = conn.version === 5;
    if ((cfg.maxTopicLevels > 0 || cfg.maxTopicLength > 0) && !topicWithinLimits(cfg, topicFilter)) {
      sh.limits.hit(Stat.LIMIT_TOPIC, 'topic', { client: conn.clientId, filter }, 'subscribe refused: filter beyond --max-topic-levels / --max-topic-length');
      granted.push(v5 ? Reason.TOPIC_FILTER_INVALID : 0x80);
      continue;
    }
    if (cfg.maxSubscriptionsPerClient > 0 && s.subs.size >= cfg.maxSubscriptionsPerClient && !s.subs.has(filter)) {
      sh.limits.hit(Stat.LIMIT_SUBSCRIPTIONS, 'subscriptions', { client: conn.clientId, filter, limit: cfg.maxSubscriptionsPerClient }, 'subscribe refused: --max-subscriptions-per-client reached');
      granted.push(v5 ? Reason.QUOTA_EXCEEDED : 0x80);
      continue;
    }
    // The ACL's verdict (docs/security.md): deny refuses this filter only; partial is granted
    // and delivery asks per topic (sub.guard); grant needs no check at all.
    let guard: ClientGuard | null = null;
    const g = s.guard;
    if (g !== null) {
      const verdict = g.subscribeVerdict(filter);
      if (verdict === 'deny') {
        sh.limits.hit(Stat.ACL_DENIED_SUBSCRIBE, 'acl-subscribe', { client: conn.clientId, user: g.username, filter }, 'subscribe denied by the ACL');
        granted.push(v5 ? Reason.NOT_AUTHORIZED : 0x80);
        continue;
      }
      if (verdict === 'partial') guard = g;
    }
    // Requested above --max-qos: granted at the maximum, never refused [MQTT-3.2.2-10].
    const qos = (req.qos > cfg.maxQos ? cfg.maxQos : req.qos) as 0 | 1 | 2;
    const sub: Subscription = {
      session: s, filter, topicFilter, group, qos,
      // A bridge's (Mosquitto's bridge flag) are No Local and Retain As Published whatever it asked.
      noLocal: (conn.version === 5 && req.nl === true) || (conn.bridge && group === null),
      retainAsPublished: (conn.version === 5 && req.rap === true) || conn.bridge,
      retainHandling: (conn.version === 5 ? req.rh ?? 0 : 0) as 0 | 1 | 2,
      subscriptionId, guard,
    };
    const prev = s.subs.get(filter);
    if (prev !== undefined) sh.routing.remove(prev);
    s.writableSubs().set(filter, sub);
    sh.routing.add(sub);
    granted.push(qos);
    retainedFor.push(sub);
    existed.push(prev !== undefined);
  }
  const finish = (): void => {
    if (conn.session !== s) return; // gone or taken over meanwhile
    // A Reason String only for a client that did not turn problem information off [MQTT-3.1.2-29].
    let properties: mqttPacket.ISubackPacket['properties'];
    if (problem !== undefined && conn.version === 5 && conn.problemInfo) {
      const reasonString = `Topic Filter invalid (${problem})`;
      // Left out when it would make the SUBACK larger than the client's Maximum Packet Size [MQTT-3.1.2-25].
      if (conn.clientMaxPacket === 0 || 16 + granted.length + Buffer.byteLength(reasonString) <= conn.clientMaxPacket) properties = { reasonString };
    }
    // A persistent session's SUBACK follows the commit of its subscriptions (durability.ts).
    sendPacketGated(sh.durability, conn, { cmd: 'suback', messageId: p.messageId, granted, properties } as mqttPacket.ISubackPacket, s.persistent);
    sendRetained(conn, retainedFor, existed);
    if (sh.hooks.has.onSubscribed) subscribed(conn, p, granted);
  };
  if (s.persistent) sh.lifecycle.persist(s);
  // A new filter must be known to every shard before SUBACK, or a message published right
  // after it on another shard could miss this subscriber.
  if (sh.routing.announced && sh.count > 1) sh.peers.barrier(finish);
  else finish();
}

/** Retained messages after the SUBACK, per Retain Handling; never for shared subscriptions [MQTT-3.1.2-25]. */
function sendRetained(conn: Connection, subs: Subscription[], existed: boolean[]): void {
  const sh = conn.shard;
  const s = conn.session!;
  const now = Date.now();
  for (let i = 0; i < subs.length; i++) {
    const sub = subs[i]!;
    if (sub.group !== null || sub.retainHandling === 2 || (sub.retainHandling === 1 && existed[i])) continue;
    const guard = sub.guard;
    sh.retained.match(sub.topicFilter, (msg) => {
      if (msg.expired(now)) return;
      if (guard !== null && !guard.canDeliver(msg.topic)) { sh.stats.add(sh.id, Stat.ACL_DENIED_DELIVERY, 1); return; } // the ACL: may the client read it?
      const qos = sub.qos < msg.qos ? sub.qos : msg.qos;
      sh.delivery.deliverTo(s, msg, qos as 0 | 1 | 2, true, sub.subscriptionId !== 0 && conn.version === 5 ? [sub.subscriptionId] : null, false);
      if (sh.hooks.has.onRetainPublished) retainPublished(conn, msg);
    });
  }
}

export function handleUnsubscribe(conn: Connection, packet: mqttPacket.Packet): void {
  const sh = conn.shard;
  const p = packet as mqttPacket.IUnsubscribePacket;
  const s = conn.session!;
  if (p.unsubscriptions.length === 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]');
  if (p.unsubscriptions.length >= YIELD_AFTER_FILTERS) conn.yieldTurn(); // as for SUBSCRIBE
  if (sh.hooks.has.onUnsubscribe) unsubscribing(conn, p, false);
  sh.routing.announced = false;
  const granted: number[] = [];
  for (const filter of p.unsubscriptions) {
    const sub = s.subs.get(filter);
    if (sub === undefined) { granted.push(Reason.NO_SUBSCRIPTION_EXISTED); continue; }
    s.writableSubs().delete(filter);
    sh.routing.remove(sub);
    granted.push(Reason.SUCCESS);
  }
  if (s.persistent) sh.lifecycle.persist(s);
  // A persistent session's UNSUBACK follows the commit: a crash after it cannot bring the subscription back.
  if (conn.version === 5) sendPacketGated(sh.durability, conn, { cmd: 'unsuback', messageId: p.messageId, granted } as mqttPacket.IUnsubackPacket, s.persistent);
  else sendSubackGated(sh.durability, conn, encodeAck(AckType.UNSUBACK, p.messageId!, 0, conn.version), s.persistent);
  if (sh.hooks.has.onUnsubscribed) unsubscribing(conn, p, true);
}

import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../../shared/errors.ts';
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import { Stat } from '../../../shared/stats.ts';
import type { Connection } from '../../net/connection.ts';
import { Message } from '../../session/message.ts';
import { decodePublish, InboundPublish } from '../publish-codec.ts';
import { PublishView } from '../publish-view.ts';
import { AckType, encodeAck } from '../acks.ts';
import { sendGated } from '../../durable/gate.ts';
import { retainWithinLimits, topicWithinLimits } from './limits.ts';
import { interceptPublish, published, type PublishEnds } from '../../hooks/publish.ts';
import { qosComplete } from '../../hooks/lifecycle.ts';

const TEST_CRASH_TOPIC = '$SHOAL/test/crash-shard';
/** Blocks the shard thread for the payload's milliseconds, as a loaded machine that does not schedule it. */
const TEST_STALL_TOPIC = '$SHOAL/test/stall-shard';

/** `wait`: the ack confirms store writes, so it goes through the commit gate (durability.ts). */
function ack(conn: Connection, type: number, packetId: number, reason: number, wait = false): void {
  sendGated(conn.shard.durability, conn, encodeAck(type, packetId, reason, conn.version), wait);
}

// The decode target, one per thread: a PUBLISH is handled to the end before the next is decoded.
const inbound = new InboundPublish();
const view = new PublishView();

/** Inbound PUBLISH: QoS 0 routed at once, QoS 1 acknowledged with PUBACK, QoS 2 stored until PUBREL. */
export function handlePublish(conn: Connection, buf: Buffer, off: number, len: number): void {
  const sh = conn.shard;
  const p = inbound;
  decodePublish(buf, off, len, conn.version, p, conn.lastTopic);
  if (p.asciiTopic) conn.lastTopic = p.topic;
  sh.stats.add(sh.id, Stat.MESSAGES_RECEIVED, 1);
  sh.stats.add(sh.id, Stat.RECEIVED_BY_QOS + p.qos, 1);
  if (sh.limits.publishLimited) sh.limits.published(conn, len);

  // Topic aliases [MQTT-3.3.2-7..12]: an alias with a topic sets it; an alias alone uses it.
  let topic = p.topic;
  if (p.topicAlias !== 0) {
    if (p.topicAlias > sh.config.topicAliasMaximum) throw new ProtocolError(Reason.TOPIC_ALIAS_INVALID, `topic alias ${p.topicAlias} above the maximum`);
    const aliases = (conn.inboundAliases ??= new Map());
    if (topic.length > 0) aliases.set(p.topicAlias, topic);
    else {
      const t = aliases.get(p.topicAlias);
      if (t === undefined) throw new ProtocolError(Reason.PROTOCOL_ERROR, `unknown topic alias ${p.topicAlias}`);
      topic = t;
    }
  } else if (topic.length === 0) {
    throw new ProtocolError(Reason.PROTOCOL_ERROR, 'empty topic without a topic alias');
  }

  if (sh.config.testHooks) {
    if (topic === TEST_CRASH_TOPIC) {
      setImmediate(() => { throw new Error('test hook: crash-shard'); });
      return;
    }
    if (topic === TEST_STALL_TOPIC) {
      const ms = Number(p.payload.toString()) || 0;
      setImmediate(() => { const end = Date.now() + ms; while (Date.now() < end) { /* stalled */ } });
      return;
    }
  }

  // Beyond what CONNACK allowed (--max-qos, --retain-available=false): DISCONNECT 0x9B / 0x9A (3.2.2.3.4/5).
  if (p.qos > sh.config.maxQos) throw new ProtocolError(Reason.QOS_NOT_SUPPORTED, `QoS ${p.qos} above the Maximum QoS`);
  if (p.retain && !sh.config.retainAvailable) throw new ProtocolError(Reason.RETAIN_NOT_SUPPORTED, 'retained messages are not supported');

  const s = conn.session!;
  const cfg = sh.config;
  if ((cfg.maxTopicLevels > 0 || cfg.maxTopicLength > 0) && !topicWithinLimits(cfg, topic)) {
    sh.limits.hit(Stat.LIMIT_TOPIC, 'topic', { client: conn.clientId, topic }, 'publish refused: topic beyond --max-topic-levels / --max-topic-length');
    refusePublish(conn, p.qos, p.packetId, Reason.TOPIC_NAME_INVALID);
    return;
  }
  // The ACL's WRITE (docs/security.md): v5 QoS 1/2 are told 0x87; QoS 0, and 3.1.1 at any QoS,
  // are acknowledged as usual and dropped, as Mosquitto does.
  const g = s.guard;
  if (g !== null && !g.canPublish(topic)) {
    sh.limits.hit(Stat.ACL_DENIED_PUBLISH, 'acl-publish', { client: conn.clientId, user: g.username, topic }, 'publish denied by the ACL');
    refusePublish(conn, p.qos, p.packetId, Reason.NOT_AUTHORIZED);
    return;
  }
  let retain = p.retain;
  if (retain && (cfg.maxRetainedMessages > 0 || cfg.maxRetainedBytes > 0) && !retainWithinLimits(cfg, sh.retained, topic, p.payload.length)) {
    sh.limits.hit(Stat.LIMIT_RETAINED, 'retained', { client: conn.clientId, topic }, 'not retained: --max-retained-messages / --max-retained-bytes reached');
    // v5 QoS 1/2 are refused with 0x97; anything else is published without being retained.
    if (conn.version === 5 && p.qos > 0) { refusePublish(conn, p.qos, p.packetId, Reason.QUOTA_EXCEEDED); return; }
    retain = false;
  }
  if (p.qos === 2) {
    if (s.inboundQos2.has(p.packetId)) {
      if (s.reforward !== null && s.reforward.has(p.packetId)) { reforward(conn, p, topic, retain); return; }
      // Resent before PUBREL: already routed once, so only acknowledge again [MQTT-4.3.3-10].
      ack(conn, AckType.PUBREC, p.packetId, 0);
      return;
    }
    if (s.inboundQos2.size >= sh.config.receiveMaximum && conn.version === 5) {
      throw new ProtocolError(Reason.RECEIVE_MAXIMUM_EXCEEDED, 'more unacknowledged QoS 2 publishes than Receive Maximum');
    }
  }

  const d = sh.durability;
  if (p.qos !== 0 && d.storeFull && conn.version === 5 && sh.config.storeFull === 'refuse') {
    // --max-store-bytes reached: not accepted, the publisher is told why [MQTT-3.4.2.1].
    sh.stats.add(sh.id, Stat.REFUSED_QUOTA, 1);
    ack(conn, p.qos === 1 ? AckType.PUBACK : AckType.PUBREC, p.packetId, Reason.QUOTA_EXCEEDED);
    return;
  }
  const mark = d.mark();

  // $SYS is the broker's own namespace: clients do not publish into it.
  const sys = topic.charCodeAt(0) === 36 /* $ */ && topic.startsWith('$SYS');
  if (!sys) {
    // When the read that brought this packet was taken (Connection.onData): one clock read per
    // socket read rather than a second one per PUBLISH (a V8 runtime call and a vDSO
    // gettimeofday each; in a round trip every read is one PUBLISH). A packet deferred behind
    // CONNECT counts from its read, which is when the broker received it.
    const now = conn.lastRx;
    if (sh.hooks.publishes && interceptPublish(conn, p, topic, ENDS)) return;
    if (p.qos === 0 && !p.retain && conn.version !== 5 && p.canonical) {
      // The packet as received is the form frames carry and v3.1.1 subscribers take: no Message.
      sh.routing.publishView(view.inbound(buf, off, len, p.payloadOff, topic, conn.clientId, sh.id), now);
    } else {
      const expiresAt = p.messageExpiry >= 0 ? now + p.messageExpiry * 1000 : 0;
      const msg = new Message(topic, p.payload, p.qos, retain, p.props, expiresAt, conn.clientId);
      sh.routing.publish(msg, now);
    }
    if (sh.hooks.publishes) published(conn);
  }
  acknowledge(conn, p.qos, p.packetId, mark);
}

/**
 * A QoS 2 resend routed here once, whose frame for another node was refused then: to the other
 * nodes only, acknowledged once kept for them (refused again: 0x80 again, the id stays marked).
 */
function reforward(conn: Connection, p: InboundPublish, topic: string, retain: boolean): void {
  const sh = conn.shard;
  const d = sh.durability;
  const now = Date.now();
  const mark = d.mark();
  sh.routing.toNodes(new Message(topic, p.payload, 2, retain, p.props, p.messageExpiry >= 0 ? now + p.messageExpiry * 1000 : 0, conn.clientId));
  if (!d.refusedSinceMark) conn.session!.reforward!.delete(p.packetId);
  ack(conn, AckType.PUBREC, p.packetId, 0, d.changedSince(mark));
}

/** A routed PUBLISH's ack (`mark`: the durability mark from before it was routed). */
function acknowledge(conn: Connection, qos: number, packetId: number, mark: number): void {
  if (qos === 0) return;
  const d = conn.shard.durability;
  if (qos === 2) {
    const s = conn.session!;
    s.writableInboundQos2().add(packetId);
    if (s.persistent && d.enabled) d.putInbound(s, packetId);
    if (d.refusedSinceMark) (s.reforward ??= new Set()).add(packetId);
  }
  // Acknowledged only once what this message changed is committed: the retained set, the
  // queues and in-flight windows of persistent sessions here and on the shards it went to.
  ack(conn, qos === 1 ? AckType.PUBACK : AckType.PUBREC, packetId, 0, d.changedSince(mark));
}

/**
 * A PUBLISH not accepted: v5 QoS 1/2 get PUBACK / PUBREC with `reason`; 3.1.1 QoS 1/2 get the
 * usual ack (it has no way to say no; a QoS 2 id is kept so PUBREL completes), QoS 0 nothing.
 */
function refusePublish(conn: Connection, qos: number, packetId: number, reason: number): void {
  if (qos === 0) return;
  if (conn.version === 5) { ack(conn, qos === 1 ? AckType.PUBACK : AckType.PUBREC, packetId, reason); return; }
  if (qos === 2) conn.session!.writableInboundQos2().add(packetId);
  ack(conn, qos === 1 ? AckType.PUBACK : AckType.PUBREC, packetId, 0);
}

const ENDS: PublishEnds = { accept: acknowledge, refuse: refusePublish };

export function handlePuback(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubackPacket).messageId!;
  conn.shard.delivery.complete(conn.session!, id, 1, 1);
  if (conn.shard.hooks.has.onQosComplete) qosComplete(conn, id, 1);
}

export function handlePubrec(conn: Connection, packet: mqttPacket.Packet): void {
  const p = packet as mqttPacket.IPubrecPacket;
  const id = p.messageId!;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  const known = conn.shard.delivery.received(conn.session!, id, failed);
  if (failed) return;
  // PUBREL even for an unknown id, with 0x92 in v5, so the client can finish its state.
  // After the PUBREC state is stored: a restart then sends PUBREL again, never the PUBLISH.
  const s = conn.session!;
  const buf = encodeAck(AckType.PUBREL, id, known ? 0 : Reason.PACKET_IDENTIFIER_NOT_FOUND, conn.version);
  sendGated(conn.shard.durability, conn, buf, known && s.persistent);
}

export function handlePubrel(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubrelPacket).messageId!;
  const s = conn.session!;
  const known = s.writableInboundQos2().delete(id);
  s.reforward?.delete(id);
  const d = conn.shard.durability;
  const stored = known && s.persistent && d.enabled;
  if (stored) d.deleteInbound(s, id);
  // PUBCOMP after the id is gone from the store: the client may reuse the id at once.
  ack(conn, AckType.PUBCOMP, id, known || conn.version !== 5 ? 0 : Reason.PACKET_IDENTIFIER_NOT_FOUND, stored);
}

export function handlePubcomp(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubcompPacket).messageId!;
  conn.shard.delivery.complete(conn.session!, id, 2, 2);
  if (conn.shard.hooks.has.onQosComplete) qosComplete(conn, id, 2);
}

import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { Stat } from '../../shared/stats.ts';
import type { Connection } from '../connection.ts';
import { Message } from '../message.ts';
import { decodePublish } from '../publish-codec.ts';

const TEST_CRASH_TOPIC = '$SHOAL/test/crash-shard';

function ack(conn: Connection, type: number, packetId: number, reason: number): void {
  // Hand-encoded: acks are the second-hottest packets. v5 omits a Success reason (2-byte form).
  if (conn.version === 5 && reason !== 0) {
    conn.send(Buffer.from([type, 3, packetId >> 8, packetId & 0xff, reason]));
  } else {
    conn.send(Buffer.from([type, 2, packetId >> 8, packetId & 0xff]));
  }
}

/** Inbound PUBLISH: QoS 0 routed at once, QoS 1 acknowledged with PUBACK, QoS 2 stored until PUBREL. */
export function handlePublish(conn: Connection, buf: Buffer, off: number, len: number): void {
  const sh = conn.shard;
  const p = conn.pub;
  decodePublish(buf, off, len, conn.version, p);
  sh.stats.add(sh.id, Stat.MESSAGES_RECEIVED, 1);

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

  if (sh.config.testHooks && topic === TEST_CRASH_TOPIC) {
    setImmediate(() => { throw new Error('test hook: crash-shard'); });
    return;
  }

  const s = conn.session!;
  if (p.qos === 2) {
    if (s.inboundQos2.has(p.packetId)) {
      // Resent before PUBREL: already routed once, so only acknowledge again [MQTT-4.3.3-10].
      ack(conn, 0x50, p.packetId, 0);
      return;
    }
    if (s.inboundQos2.size >= sh.config.receiveMaximum && conn.version === 5) {
      throw new ProtocolError(Reason.RECEIVE_MAXIMUM_EXCEEDED, 'more unacknowledged QoS 2 publishes than Receive Maximum');
    }
  }

  // $SYS is the broker's own namespace: clients do not publish into it.
  const sys = topic.charCodeAt(0) === 36 /* $ */ && topic.startsWith('$SYS');
  if (!sys) {
    const now = Date.now();
    const expiresAt = p.messageExpiry >= 0 ? now + p.messageExpiry * 1000 : 0;
    const msg = new Message(topic, p.payload, p.qos, p.retain, p.props, expiresAt, conn.clientId);
    sh.routing.publish(msg, now);
  }

  if (p.qos === 1) ack(conn, 0x40, p.packetId, 0);
  else if (p.qos === 2) {
    s.inboundQos2.add(p.packetId);
    ack(conn, 0x50, p.packetId, 0);
  }
}

export function handlePuback(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubackPacket).messageId!;
  conn.shard.delivery.complete(conn.session!, id, 1, 1);
}

export function handlePubrec(conn: Connection, packet: mqttPacket.Packet): void {
  const p = packet as mqttPacket.IPubrecPacket;
  const id = p.messageId!;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  const known = conn.shard.delivery.received(conn.session!, id, failed);
  if (failed) return;
  // PUBREL even for an unknown id, with 0x92 in v5, so the client can finish its state.
  if (conn.version === 5 && !known) conn.send(Buffer.from([0x62, 3, id >> 8, id & 0xff, Reason.PACKET_IDENTIFIER_NOT_FOUND]));
  else conn.send(Buffer.from([0x62, 2, id >> 8, id & 0xff]));
}

export function handlePubrel(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubrelPacket).messageId!;
  const known = conn.session!.inboundQos2.delete(id);
  ack(conn, 0x70, id, known || conn.version !== 5 ? 0 : Reason.PACKET_IDENTIFIER_NOT_FOUND);
}

export function handlePubcomp(conn: Connection, packet: mqttPacket.Packet): void {
  const id = (packet as mqttPacket.IPubcompPacket).messageId!;
  conn.shard.delivery.complete(conn.session!, id, 2, 2);
}

// Wire bytes the lean client sends. Rare packets (CONNECT, SUBSCRIBE) go through mqtt-packet,
// the project's reference codec; the hot ones (PUBLISH, acks) are laid out here once so the
// send path only copies a template and patches a few bytes.
import * as mqttPacket from 'mqtt-packet';
import { HEADER_SIZE, PUBLISHER_OFFSET, SEQ_OFFSET, TIME_OFFSET } from './payload.ts';

/** Protocol level on the wire: 3 = MQTT 3.1 ('MQIsdp'), 4 = 3.1.1, 5 = 5.0. */
export type ProtocolLevel = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;

export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const CONNACK = 2;
export const SUBACK = 9;
export const PINGRESP = 13;
export const DISCONNECT = 14;

export const PINGREQ_BYTES = Buffer.from([0xc0, 0x00]);
export const DISCONNECT_BYTES = Buffer.from([0xe0, 0x00]);

export interface ConnectOptions {
  clientId: string;
  level: ProtocolLevel;
  keepalive: number;
  username?: string;
  password?: string;
  /** Keep the session: clean session 0 (3.1/3.1.1) or a Session Expiry Interval (5). */
  persistent?: boolean;
}

/** Session expiry asked for by a persistent v5 client (seconds). */
export const PERSISTENT_SESSION_EXPIRY = 300;

export function encodeConnect(o: ConnectOptions): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: o.level === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: o.level,
    clientId: o.clientId,
    clean: o.persistent !== true,
    keepalive: o.keepalive,
    ...(o.persistent === true && o.level === 5 ? { properties: { sessionExpiryInterval: PERSISTENT_SESSION_EXPIRY } } : {}),
    // The seed sets both flags when a user is given, even with an empty password.
    username: o.username,
    password: o.username !== undefined ? Buffer.from(o.password ?? '') : undefined,
  }, { protocolVersion: o.level });
}

export function encodeSubscribe(messageId: number, topics: string[], qos: QoS, level: ProtocolLevel): Buffer {
  return mqttPacket.generate({
    cmd: 'subscribe',
    messageId,
    subscriptions: topics.map((topic) => ({ topic, qos })),
  }, { protocolVersion: level });
}

/** A PUBLISH laid out once; per message only the packet id and the payload header change. */
export class PublishTemplate {
  readonly bytes: Buffer;
  readonly qos: QoS;
  /** Offset of the packet id, or -1 at QoS 0. */
  readonly idOffset: number;
  readonly payloadOffset: number;

  constructor(topic: string, payload: Buffer, qos: QoS, level: ProtocolLevel) {
    if (payload.length < HEADER_SIZE) throw new RangeError(`payload shorter than its ${HEADER_SIZE}-byte header`);
    const topicBytes = Buffer.from(topic);
    const props = level === 5 ? 1 : 0; // v5: a property length of 0
    const remaining = 2 + topicBytes.length + (qos > 0 ? 2 : 0) + props + payload.length;
    const lenBytes = varintSize(remaining);
    const bytes = Buffer.alloc(1 + lenBytes + remaining);
    let off = 0;
    bytes[off++] = 0x30 | (qos << 1);
    off = writeVarint(bytes, off, remaining);
    bytes.writeUInt16BE(topicBytes.length, off);
    off += 2;
    topicBytes.copy(bytes, off);
    off += topicBytes.length;
    this.idOffset = qos > 0 ? off : -1;
    if (qos > 0) off += 2;
    if (level === 5) bytes[off++] = 0;
    this.payloadOffset = off;
    payload.copy(bytes, off);
    this.bytes = bytes;
    this.qos = qos;
  }

  /**
   * Copies the packet into `out` at `off` with its sequence, send time and packet id, and
   * the publisher id when one template serves many publishers; returns the end.
   */
  writeInto(out: Buffer, off: number, seq: number, timeMs: number, packetId: number, publisherId = -1): number {
    this.bytes.copy(out, off);
    const p = off + this.payloadOffset;
    if (publisherId >= 0) out.writeUInt32BE(publisherId >>> 0, p + PUBLISHER_OFFSET);
    out.writeUInt32BE(seq >>> 0, p + SEQ_OFFSET);
    out.writeDoubleBE(timeMs, p + TIME_OFFSET);
    if (this.idOffset >= 0) out.writeUInt16BE(packetId, off + this.idOffset);
    return off + this.bytes.length;
  }
}

/** A four-byte ack (PUBACK, PUBREC, PUBREL, PUBCOMP) written into `out`. */
export function writeAck(out: Buffer, off: number, type: number, packetId: number): number {
  // PUBREL carries the reserved flags 0b0010.
  out[off] = (type << 4) | (type === PUBREL ? 0x02 : 0);
  out[off + 1] = 2;
  out[off + 2] = packetId >> 8;
  out[off + 3] = packetId & 0xff;
  return off + 4;
}

export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

export function writeVarint(buf: Buffer, off: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[off++] = b;
  } while (n > 0);
  return off;
}

/** Reads a variable byte integer; returns [value, bytes used]. */
export function readVarint(buf: Buffer, off: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    const b = buf[off + i];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [value, i + 1];
    mul *= 128;
  }
  throw new RangeError('malformed variable byte integer');
}

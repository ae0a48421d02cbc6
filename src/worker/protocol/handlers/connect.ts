import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../../shared/errors.ts';
import { BRIDGE_ID_PREFIX, BRIDGE_PROTOCOL_FLAG, MAX_CLIENT_ID_LENGTH, Property as P } from '../../../shared/protocol/constants.ts';
import { decodeVarint } from '../../../shared/protocol/varint.ts';
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import { isValidMqttUtf8Bytes } from '../../../shared/protocol/utf8.ts';
import { decodeConnectFast } from '../../../shared/protocol/connect-fast.ts';
import { validateTopicName } from '../../../shared/topics/validate.ts';
import type { BrokerConfig } from '../../../shared/config.ts';
import type { Connection } from '../../net/connection.ts';
import { boundedExpiry, NEVER_EXPIRES, type Will } from '../../session/session.ts';
import type { AuthOutcome, AuthRequest } from '../../auth/hook.ts';
import { beginConnectAuth, settle } from './auth.ts';
import { admitConnect } from './limits.ts';
import { connectBudget, paced } from './connect-budget.ts';
import { proceedConnect, refuse, type ConnectRequest } from './connack.ts';

/**
 * Checks what mqtt-packet does not: the UTF-8 strings of CONNECT as raw bytes (it decodes with
 * replacement characters) [MQTT-1.5.4-1..2], and Will QoS 3 [MQTT-3.1.2-14]. Returns 0 or a reason.
 * A cursor through plain functions (skipProps, skipUtf8: the next position, or -1), no closure
 * or result object per CONNECT.
 */
function checkConnectBytes(buf: Buffer, off: number, len: number, version: number): number {
  const end = off + len;
  let pos = off + 1;
  while ((buf[pos]! & 0x80) !== 0) pos++;
  pos++;
  pos += 2 + buf.readUInt16BE(pos); // protocol name (checked before)
  pos += 1; // level
  const flags = buf[pos]!;
  pos += 3; // flags + keepalive
  if (((flags >> 3) & 3) === 3) return Reason.MALFORMED_PACKET;
  if (version === 5) {
    const bad = checkConnectProps(buf, pos, end);
    if (bad !== 0) return bad;
    if ((pos = skipProps(buf, pos, end)) < 0) return Reason.MALFORMED_PACKET;
  }
  if ((pos = skipUtf8(buf, pos, end)) < 0) return Reason.MALFORMED_PACKET;
  if ((flags & 0x04) !== 0) {
    if (version === 5 && (pos = skipProps(buf, pos, end)) < 0) return Reason.MALFORMED_PACKET;
    if ((pos = skipUtf8(buf, pos, end)) < 0) return Reason.MALFORMED_PACKET;
    pos += 2 + buf.readUInt16BE(pos); // will payload is binary
  }
  if ((flags & 0x80) !== 0 && skipUtf8(buf, pos, end) < 0) return Reason.MALFORMED_PACKET;
  return 0;
}

/** Past a properties section (its Variable Byte Integer length, then that many bytes): the next position, or -1. */
function skipProps(buf: Buffer, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return pos + value <= end ? pos + value : -1;
    mul *= 0x80;
  }
  return -1;
}

/** Past a length-prefixed MQTT UTF-8 string that is valid: the next position, or -1. */
function skipUtf8(buf: Buffer, pos: number, end: number): number {
  if (pos + 2 > end) return -1;
  const n = buf.readUInt16BE(pos);
  return pos + 2 + n <= end && isValidMqttUtf8Bytes(buf, pos + 2, pos + 2 + n) ? pos + 2 + n : -1;
}

/**
 * What mqtt-packet lets through in CONNECT properties (it decodes a byte property as a boolean
 * and does not report repeats): a property other than User Property given twice, and Request
 * Problem / Response Information other than 0 or 1, are protocol errors (3.1.2.11).
 */
function checkConnectProps(buf: Buffer, pos: number, end: number): number {
  const v = decodeVarint(buf, pos, end);
  if (v.bytes <= 0) return Reason.MALFORMED_PACKET;
  pos += v.bytes;
  const pend = Math.min(pos + v.value, end);
  // identifiers seen, 0-31 and 32-63 (any other is refused below): two words, no BigInt per property
  let seenLo = 0;
  let seenHi = 0;
  while (pos < pend) {
    const id = buf[pos]!;
    if (id !== P.USER_PROPERTY && id < 64) {
      const bit = 1 << (id & 31);
      const seen = id < 32 ? seenLo : seenHi;
      if ((seen & bit) !== 0) return Reason.PROTOCOL_ERROR;
      if (id < 32) seenLo |= bit; else seenHi |= bit;
    }
    switch (id) {
      case P.REQUEST_PROBLEM_INFORMATION: case P.REQUEST_RESPONSE_INFORMATION:
        if (buf[pos + 1]! > 1) return Reason.PROTOCOL_ERROR;
        pos += 2; break;
      case P.SESSION_EXPIRY_INTERVAL: case P.MAXIMUM_PACKET_SIZE: pos += 5; break;
      case P.RECEIVE_MAXIMUM: case P.TOPIC_ALIAS_MAXIMUM: pos += 3; break;
      case P.AUTHENTICATION_METHOD: case P.AUTHENTICATION_DATA: pos += 3 + buf.readUInt16BE(pos + 1); break;
      case P.USER_PROPERTY: { const k = buf.readUInt16BE(pos + 1); pos += 5 + k + buf.readUInt16BE(pos + 3 + k); break; }
      default: return Reason.MALFORMED_PACKET;
    }
  }
  return 0;
}

/**
 * The Will Properties of a v5 CONNECT as wire bytes, minus Will Delay Interval and Message Expiry
 * (the broker applies those itself): the rest goes out with the will exactly as sent, user
 * properties in their order [MQTT-3.1.3-10]. Call only after mqtt-packet accepted the packet;
 * it still checks every length against the will properties' end and the packet's, because
 * mqtt-packet lets a User Property whose lengths run past them through (a fuzzer find, issue
 * #12): MALFORMED (a Malformed Packet) then.
 */
function rawWillProps(buf: Buffer, off: number, len: number): Buffer | null | typeof MALFORMED {
  const end = off + len;
  let vlen = 0;
  const varint = (at: number): number => {
    const v = decodeVarint(buf, at, end);
    vlen = v.bytes > 0 ? v.bytes : end - at + 1; // a broken varint runs past the end: MALFORMED below
    return v.value;
  };
  const u16 = (at: number, limit: number): number => (at + 2 <= limit ? buf.readUInt16BE(at) : -1);
  let pos = off + 1;
  varint(pos);
  pos += vlen;
  let n = u16(pos, end);
  if (n < 0) return MALFORMED;
  pos += 2 + n + 4;                     // protocol name, level, flags, keepalive
  const plen = varint(pos);
  pos += vlen + plen;                   // CONNECT properties
  n = u16(pos, end);
  if (n < 0) return MALFORMED;
  pos += 2 + n;                         // client id
  const wlen = varint(pos);
  pos += vlen;
  const wend = pos + wlen;
  if (wend > end) return MALFORMED;
  const keep: Buffer[] = [];
  while (pos < wend) {
    const id = buf[pos]!;
    let size: number;
    switch (id) {
      case P.PAYLOAD_FORMAT_INDICATOR: size = 2; break;
      case P.MESSAGE_EXPIRY_INTERVAL: case P.WILL_DELAY_INTERVAL: size = 5; break;
      case P.CONTENT_TYPE: case P.RESPONSE_TOPIC: case P.CORRELATION_DATA: {
        const s = u16(pos + 1, wend);
        if (s < 0) return MALFORMED;
        size = 3 + s;
        break;
      }
      case P.USER_PROPERTY: {
        const k = u16(pos + 1, wend);
        const v = k < 0 ? -1 : u16(pos + 3 + k, wend);
        if (v < 0) return MALFORMED;
        size = 5 + k + v;
        break;
      }
      default: return null; // not a will property: mqtt-packet would have refused it
    }
    if (pos + size > wend) return MALFORMED;
    if (id !== P.MESSAGE_EXPIRY_INTERVAL && id !== P.WILL_DELAY_INTERVAL) keep.push(buf.subarray(pos, pos + size));
    pos += size;
  }
  return keep.length === 0 ? null : Buffer.concat(keep);
}

/** rawWillProps' answer for lengths that run past their section. */
const MALFORMED = 'malformed';

/**
 * Reads protocol name and level from raw bytes: an unknown level gets CONNACK 0x01 / 0x84
 * [MQTT-3.1.2-2]. A level with Mosquitto's bridge flag (0x83, 0x84, 0x85) is accepted as that
 * level, as Mosquitto does; the connection is then a bridge's (subscribe.ts: No Local and Retain
 * As Published on its subscriptions), so a Mosquitto bridge with `try_private` does not get its
 * own messages back.
 */
function checkProtocol(conn: Connection, buf: Buffer, off: number, len: number): boolean {
  const end = off + len;
  let pos = off + 1;
  while (pos < end && (buf[pos]! & 0x80) !== 0) pos++;
  pos++;
  if (pos + 2 > end) return false;
  const nlen = buf.readUInt16BE(pos);
  if (pos + 2 + nlen + 1 > end) return false;
  // the name's bytes compared where they lie: no string per CONNECT
  const mqtt = isName(buf, pos + 2, nlen, MQTT_NAME);
  const mqisdp = !mqtt && isName(buf, pos + 2, nlen, MQISDP_NAME);
  const raw = buf[pos + 2 + nlen]!;
  const level = raw & ~BRIDGE_PROTOCOL_FLAG;
  if (!mqtt && !mqisdp) return false; // not MQTT: close without CONNACK [MQTT-3.1.2-1]
  if ((mqtt && (level === 4 || level === 5)) || (mqisdp && level === 3)) {
    conn.bridge = raw !== level;
    return true;
  }
  conn.version = level === 5 ? 5 : 4;
  refuse(conn, Reason.UNSUPPORTED_PROTOCOL_VERSION);
  return false;
}

/** The protocol names MQTT knows, as bytes (3.1.1 and 5: MQTT; 3.1: MQIsdp). */
const MQTT_NAME = Buffer.from('MQTT', 'latin1');
const MQISDP_NAME = Buffer.from('MQIsdp', 'latin1');

/** Whether buf[at, at + len) holds `name`. */
function isName(buf: Buffer, at: number, len: number, name: Buffer): boolean {
  if (len !== name.length) return false;
  for (let i = 0; i < len; i++) if (buf[at + i] !== name[i]) return false;
  return true;
}

/** CONNECT's will, or the reason it is refused. */
function readWill(w: NonNullable<mqttPacket.IConnectPacket['will']>, config: BrokerConfig, v5: boolean, buf: Buffer, off: number, len: number): Will | number {
  if (validateTopicName(w.topic) !== null) return Reason.TOPIC_NAME_INVALID;
  // A Will beyond what the server supports is refused [MQTT-3.2.2-12] [MQTT-3.2.2-13].
  if ((w.qos ?? 0) > config.maxQos) return Reason.QOS_NOT_SUPPORTED;
  if (w.retain && !config.retainAvailable) return Reason.RETAIN_NOT_SUPPORTED;
  const wp = (w.properties ?? {}) as mqttPacket.IConnectPacket['properties'] & { willDelayInterval?: number; messageExpiryInterval?: number; payloadFormatIndicator?: boolean };
  const payload = Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload);
  if (v5 && wp?.payloadFormatIndicator && !isUtf8(payload)) return Reason.PAYLOAD_FORMAT_INVALID;
  const props = v5 ? rawWillProps(buf, off, len) : null;
  if (props === MALFORMED) return Reason.MALFORMED_PACKET;
  return {
    topic: w.topic, payload: Buffer.from(payload), qos: w.qos as 0 | 1 | 2, retain: w.retain === true,
    props,
    expiry: v5 && wp?.messageExpiryInterval !== undefined ? wp.messageExpiryInterval : -1,
    delayMs: v5 ? (wp?.willDelayInterval ?? 0) * 1000 : 0,
  };
}

/** CONNECT through the fast decoder or mqtt-packet; null when it was malformed and refused. */
function decodeConnect(conn: Connection, buf: Buffer, off: number, len: number): mqttPacket.IConnectPacket | null {
  try {
    return (decodeConnectFast(buf, off, len) ?? conn.parse(buf, off, len)) as mqttPacket.IConnectPacket;
  } catch (err) {
    // A malformed CONNECT: v5 may be told why before the close [MQTT-3.1.4-1].
    if ((buf[off + 8]! & 0x7f) === 5 || (buf[off + 10]! & 0x7f) === 5) { conn.version = 5; refuse(conn, Reason.MALFORMED_PACKET); return null; }
    throw err;
  }
}

export function handleConnect(conn: Connection, buf: Buffer, off: number, len: number): void {
  // A burst of CONNECTs is taken a few per turn, so other clients' packets interleave.
  if (!connectBudget.admit(conn)) { conn.holdPacket(buf, off, len); return; }
  const sh = conn.shard;
  if (!checkProtocol(conn, buf, off, len)) { conn.close(); return; }
  const packet = decodeConnect(conn, buf, off, len);
  if (packet === null) return;
  const version = packet.protocolVersion ?? 4;
  conn.setVersion(version);
  const v5 = version === 5;
  const bad = checkConnectBytes(buf, off, len, version);
  if (bad !== 0) { refuse(conn, bad); return; }
  const props = packet.properties ?? {};

  // Password without user name is a protocol violation in 3.1.1 [MQTT-3.1.2-22].
  if (version === 4 && packet.password !== undefined && packet.username === undefined) { conn.close(); return; }

  let clientId = packet.clientId ?? '';
  let assignedId: string | null = null;
  if (clientId.length === 0) {
    // 3.1.1 allows an empty id only with a clean session [MQTT-3.1.3-7/8]; 3.1 never; v5 assigns one.
    if (version === 3 || (version === 4 && !packet.clean)) { refuse(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID); return; }
    clientId = assignedClientId();
    if (v5) assignedId = clientId;
  } else if (clientId.length > MAX_CLIENT_ID_LENGTH) {
    refuse(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID);
    return;
  }

  // The $bridge/ ids belong to the bridges' own local sessions (worker/bridge/), which skip the
  // limits, the auth hook and the ACL: the operator configured them.
  const internal = conn.socket.internal === true;
  if (clientId.startsWith(BRIDGE_ID_PREFIX) !== internal) { refuse(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID); return; }

  // --client-id-prefixes and --max-connections, before any password is hashed.
  const limited = internal ? 0 : admitConnect(conn, clientId, assignedId !== null);
  if (limited !== 0) { refuse(conn, limited); return; }

  let authMethod: string | undefined;
  if (v5) {
    if (props.receiveMaximum === 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'receive maximum 0 [MQTT-3.1.2.11.3]');
    if (props.maximumPacketSize === 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'maximum packet size 0');
    // Authentication Data without a method is a protocol error (3.1.2.11.10).
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'authentication data without a method');
    authMethod = props.authenticationMethod;
    if (authMethod !== undefined && !sh.auth.supportsMethod(authMethod)) {
      refuse(conn, Reason.BAD_AUTHENTICATION_METHOD); // [MQTT-4.12.0-1]
      return;
    }
    conn.clientReceiveMax = props.receiveMaximum ?? 65535;
    conn.clientMaxPacket = props.maximumPacketSize ?? 0;
    conn.clientTopicAliasMax = props.topicAliasMaximum ?? 0;
  }

  let will: Will | null = null;
  if (packet.will) {
    const w = readWill(packet.will, sh.config, v5, buf, off, len);
    if (typeof w === 'number') { refuse(conn, w); return; }
    will = w;
  }

  let keepalive = packet.keepalive ?? 0;
  let keepaliveChanged = -1;
  if (sh.config.maxKeepAlive > 0 && v5 && (keepalive === 0 || keepalive > sh.config.maxKeepAlive)) {
    keepalive = keepaliveChanged = sh.config.maxKeepAlive;
  }
  conn.keepaliveMs = keepalive * 1000;
  conn.clientId = clientId;
  conn.cleanStart = packet.clean !== false;
  // --persistent-client-expiration: Mosquitto's bound on sessions that would never expire
  // (3.1.1 clean session 0, v5 Session Expiry Interval 0xFFFFFFFF).
  const asked = v5 ? (props.sessionExpiryInterval ?? 0) : conn.cleanStart ? 0 : NEVER_EXPIRES;
  const expiry = boundedExpiry(asked, sh.config.persistentClientExpiration);
  const req: ConnectRequest = {
    expiry, will, assignedId, keepaliveChanged,
    requestProblemInfo: props.requestProblemInformation !== false,
    requestResponseInfo: v5 && props.requestResponseInformation === true,
    authMethod, authData: undefined, username: packet.username, expiryChanged: expiry !== asked,
  };
  const areq: AuthRequest = new ConnectAuthRequest(conn, clientId, packet.username, packet.password, version);
  if (authMethod !== undefined) {
    beginConnectAuth(conn, req, authMethod, areq, props.authenticationData);
    return;
  }
  settle(conn, internal ? INTERNAL_OK : paced(sh.auth.check(areq)), true, (o) => {
    if (o.reason === Reason.SUCCESS) proceedConnect(conn, req);
    else refuse(conn, o.reason === Reason.CONTINUE_AUTHENTICATION ? Reason.NOT_AUTHORIZED : o.reason, o);
  });
}

/** Random bytes of an assigned client id: 96 bits, as unguessable as the session it names. */
const ID_BYTES = 12;
/** Ids' bytes drawn from the CSPRNG at once (a call per CONNECT was ~10 µs of a burst's each). */
const idBytes = Buffer.allocUnsafeSlow(ID_BYTES * 64);
let idAt = idBytes.length;

/** 'shoal-' and 24 hex digits never handed out before (each byte is used once). */
function assignedClientId(): string {
  if (idAt === idBytes.length) { randomFillSync(idBytes); idAt = 0; }
  const id = 'shoal-' + idBytes.toString('hex', idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return id;
}

const INTERNAL_OK: AuthOutcome = Object.freeze({ reason: Reason.SUCCESS });

/**
 * The AuthRequest of a CONNECT. The peer address is looked up only if a hook reads it: it is
 * a getpeername() syscall, a third of the CPU of an allowed CONNECT with the default hook.
 */
class ConnectAuthRequest implements AuthRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly version: number;
  private readonly conn: Connection;
  constructor(conn: Connection, clientId: string, username: string | undefined, password: Buffer | undefined, version: number) {
    this.conn = conn;
    this.clientId = clientId;
    this.username = username;
    this.password = password;
    this.version = version;
  }
  get remote(): string { return this.conn.remote; }
}

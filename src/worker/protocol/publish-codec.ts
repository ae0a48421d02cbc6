// Hand-written codec for PUBLISH, the one packet on the hot path. Everything else goes through
// mqtt-packet. Properties stay as wire bytes: a broker only needs to look at four of them, and
// passing the rest through untouched is both faster and exactly what MQTT 5 requires.
import { cachedString } from '../../shared/string-cache.ts';
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { encodeVarint, varintLength } from '../../shared/protocol/varint.ts';
import { validateTopicName } from '../../shared/topics/validate.ts';
import { Property } from '../../shared/protocol/constants.ts';

// Property ids allowed in PUBLISH [MQTT-3.3.2.3], from the one property table; module-level
// consts so the decoder's switch compares against constants.
const P_PAYLOAD_FORMAT = Property.PAYLOAD_FORMAT_INDICATOR;
const P_MESSAGE_EXPIRY = Property.MESSAGE_EXPIRY_INTERVAL;
const P_CONTENT_TYPE = Property.CONTENT_TYPE;
const P_RESPONSE_TOPIC = Property.RESPONSE_TOPIC;
const P_CORRELATION_DATA = Property.CORRELATION_DATA;
const P_SUBSCRIPTION_ID = Property.SUBSCRIPTION_IDENTIFIER;
const P_TOPIC_ALIAS = Property.TOPIC_ALIAS;
const P_USER_PROPERTY = Property.USER_PROPERTY;

/** Result of decoding one inbound PUBLISH; reused by a connection for every packet (no allocation). */
export class InboundPublish {
  dup = false;
  qos: 0 | 1 | 2 = 0;
  retain = false;
  topic = '';
  packetId = 0;
  topicAlias = 0;
  messageExpiry = -1;        // seconds, -1 = absent
  payloadFormat = 0;
  hasResponseTopic = false;
  props: Buffer | null = null; // pass-through properties (without alias / expiry)
  /** The packet's bytes and where its payload starts (the payload runs to the packet's end). */
  buf: Buffer = Buffer.alloc(0);
  payloadOff = 0;
  end = 0;
  /** Remaining Length in its shortest form: the packet is byte for byte what encodePublish writes. */
  canonical = false;
  /** `topic` is plain ASCII (no NUL): `decodePublish`'s `prev` may be this topic next time. */
  asciiTopic = false;
  /** A view of the payload (made when asked: a QoS 0 message forwarded as bytes needs none). */
  get payload(): Buffer { return this.buf.subarray(this.payloadOff, this.end); }
}

/** buf[pos, pos + s.length) are the char codes of `s`, an ASCII string (so equal bytes are ASCII too). */
function sameAscii(buf: Buffer, pos: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (buf[pos + i] !== s.charCodeAt(i)) return false;
  return true;
}

function readVarint(buf: Buffer, pos: number, end: number): number {
  // Not shared decodeVarint: that returns an object per call; this packs value * 8 + bytes used
  // into one number so the hot path allocates nothing.
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (pos + i >= end) throw new ProtocolError(Reason.MALFORMED_PACKET, 'truncated variable byte integer');
    const b = buf[pos + i]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return value * 8 + i + 1;
    mul *= 128;
  }
  throw new ProtocolError(Reason.MALFORMED_PACKET, 'variable byte integer longer than 4 bytes');
}

let lastValidTopic = '';

/**
 * Decodes the PUBLISH in buf[off, off+len) into `out`. `version` is 3, 4 or 5.
 * Topic alias resolution is the caller's job (it owns the alias map); `out.topic` is '' when
 * the packet carried only an alias. `prev`: the sender's last topic that came back with
 * `asciiTopic` set ('' for none); when the packet's topic bytes spell it again, it is taken as
 * is, without the ASCII scan, the string cache's hash and the validation (a publisher repeats
 * its topic: one compare pass instead of three).
 */
export function decodePublish(buf: Buffer, off: number, len: number, version: number, out: InboundPublish, prev = ''): void {
  const end = off + len;
  const h = buf[off]!;
  const qos = (h >> 1) & 3;
  if (qos === 3) throw new ProtocolError(Reason.MALFORMED_PACKET, 'PUBLISH with QoS 3 [MQTT-3.3.1-4]');
  out.dup = (h & 8) !== 0;
  if (qos === 0 && out.dup) throw new ProtocolError(Reason.MALFORMED_PACKET, 'DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]');
  out.qos = qos as 0 | 1 | 2;
  out.retain = (h & 1) !== 0;
  let pos = off + 1;
  const rl = readVarint(buf, pos, end);
  pos += rl & 7;
  out.canonical = (rl & 7) === varintLength((rl - (rl & 7)) / 8);
  if (pos + 2 > end) throw new ProtocolError(Reason.MALFORMED_PACKET, 'PUBLISH too short for a topic');
  const tlen = buf.readUInt16BE(pos);
  pos += 2;
  if (pos + tlen > end) throw new ProtocolError(Reason.MALFORMED_PACKET, 'topic length beyond packet');
  if (tlen > 0 && tlen === prev.length && sameAscii(buf, pos, prev)) {
    out.topic = prev;
    out.asciiTopic = true;
  } else if (tlen > 0) {
    // ASCII fast path: most topics are plain ASCII, where latin1 decoding equals UTF-8 decoding.
    let ascii = true;
    for (let i = pos; i < pos + tlen; i++) {
      const c = buf[i]!;
      if (c >= 0x80 || c === 0) { ascii = false; break; }
    }
    out.asciiTopic = ascii;
    if (ascii) {
      out.topic = cachedString(buf, pos, pos + tlen, true);
    } else {
      if (!isUtf8(buf.subarray(pos, pos + tlen))) throw new ProtocolError(Reason.TOPIC_NAME_INVALID, 'topic is not valid UTF-8 [MQTT-1.5.4-1]');
      out.topic = buf.toString('utf8', pos, pos + tlen);
    }
    // A publisher repeats its topic: the string cache hands back the same instance, and a name
    // valid once is valid again (validation depends on the characters only).
    if (out.topic !== lastValidTopic) {
      const bad = validateTopicName(out.topic);
      if (bad !== null) throw new ProtocolError(Reason.TOPIC_NAME_INVALID, `invalid topic name: ${bad}`);
      lastValidTopic = out.topic;
    }
  } else {
    out.topic = '';
    out.asciiTopic = false;
  }
  pos += tlen;
  if (qos > 0) {
    if (pos + 2 > end) throw new ProtocolError(Reason.MALFORMED_PACKET, 'PUBLISH missing packet identifier');
    out.packetId = buf.readUInt16BE(pos);
    if (out.packetId === 0) throw new ProtocolError(Reason.MALFORMED_PACKET, 'packet identifier 0 [MQTT-2.2.1-3]');
    pos += 2;
  } else {
    out.packetId = 0;
  }
  out.topicAlias = 0;
  out.messageExpiry = -1;
  out.payloadFormat = 0;
  out.hasResponseTopic = false;
  out.props = null;
  if (version === 5) {
    const pl = readVarint(buf, pos, end);
    pos += pl & 7;
    const plen = (pl - (pl & 7)) / 8;
    const pend = pos + plen;
    if (pend > end) throw new ProtocolError(Reason.MALFORMED_PACKET, 'properties beyond packet');
    if (plen > 0) out.props = scanProps(buf, pos, pend, out);
    pos = pend;
  } else if (tlen === 0) {
    throw new ProtocolError(Reason.PROTOCOL_ERROR, 'empty topic name [MQTT-4.7.3-1]');
  }
  out.buf = buf;
  out.payloadOff = pos;
  out.end = end;
  if (out.payloadFormat === 1 && !isUtf8(buf.subarray(pos, end))) {
    throw new ProtocolError(Reason.PAYLOAD_FORMAT_INVALID, 'payload format indicator 1 with a payload that is not UTF-8');
  }
}

/** Validates PUBLISH properties, extracts the ones the broker acts on, returns the rest as bytes (or null). */
function scanProps(buf: Buffer, pos: number, end: number, out: InboundPublish): Buffer | null {
  const start = pos;
  let seen = 0; // bit per single-occurrence property
  let keepFrom = -1;
  const keep: number[] = []; // [start, end) pairs of kept properties; only allocated when stripping
  let stripped = false;
  while (pos < end) {
    const id = buf[pos]!;
    const pStart = pos;
    pos++;
    let bit = 0;
    switch (id) {
      case P_PAYLOAD_FORMAT:
        if (pos + 1 > end) throw truncated();
        out.payloadFormat = buf[pos]!;
        if (out.payloadFormat > 1) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'payload format indicator must be 0 or 1');
        pos += 1; bit = 1; break;
      case P_MESSAGE_EXPIRY:
        if (pos + 4 > end) throw truncated();
        out.messageExpiry = buf.readUInt32BE(pos);
        pos += 4; bit = 2; break;
      case P_CONTENT_TYPE:
        pos = skipString(buf, pos, end, true); bit = 4; break;
      case P_RESPONSE_TOPIC: {
        const s = pos;
        pos = skipString(buf, pos, end, true);
        const topic = buf.toString('utf8', s + 2, pos);
        if (validateTopicName(topic) !== null) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'response topic must be a valid topic name');
        out.hasResponseTopic = true;
        bit = 8; break;
      }
      case P_CORRELATION_DATA:
        pos = skipString(buf, pos, end, false); bit = 16; break;
      case P_TOPIC_ALIAS:
        if (pos + 2 > end) throw truncated();
        out.topicAlias = buf.readUInt16BE(pos);
        if (out.topicAlias === 0) throw new ProtocolError(Reason.TOPIC_ALIAS_INVALID, 'topic alias 0 [MQTT-3.3.2-8]');
        pos += 2; bit = 32; break;
      case P_USER_PROPERTY:
        pos = skipString(buf, pos, end, true);
        pos = skipString(buf, pos, end, true);
        break;
      case P_SUBSCRIPTION_ID:
        throw new ProtocolError(Reason.PROTOCOL_ERROR, 'a client must not send a subscription identifier in PUBLISH [MQTT-3.3.4-6]');
      default:
        throw new ProtocolError(Reason.MALFORMED_PACKET, `property 0x${id.toString(16)} not allowed in PUBLISH`);
    }
    if (bit !== 0) {
      if ((seen & bit) !== 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, `property 0x${id.toString(16)} included twice`);
      seen |= bit;
    }
    const strip = id === P_TOPIC_ALIAS || id === P_MESSAGE_EXPIRY;
    if (strip) {
      if (keepFrom !== -1) { keep.push(keepFrom, pStart); keepFrom = -1; }
      stripped = true;
    } else if (keepFrom === -1) {
      keepFrom = pStart;
    }
  }
  if (pos !== end) throw truncated();
  if (!stripped) return buf.subarray(start, end);
  if (keepFrom !== -1) keep.push(keepFrom, end);
  if (keep.length === 0) return null;
  let total = 0;
  for (let i = 0; i < keep.length; i += 2) total += keep[i + 1]! - keep[i]!;
  const outBuf = Buffer.allocUnsafe(total);
  let o = 0;
  for (let i = 0; i < keep.length; i += 2) o += buf.copy(outBuf, o, keep[i]!, keep[i + 1]!);
  return outBuf;
}

function truncated(): ProtocolError { return new ProtocolError(Reason.MALFORMED_PACKET, 'truncated property'); }

function skipString(buf: Buffer, pos: number, end: number, utf8: boolean): number {
  if (pos + 2 > end) throw truncated();
  const n = buf.readUInt16BE(pos);
  const e = pos + 2 + n;
  if (e > end) throw truncated();
  if (utf8 && n > 0 && !isUtf8(buf.subarray(pos + 2, e))) throw new ProtocolError(Reason.MALFORMED_PACKET, 'property string is not valid UTF-8');
  return e;
}

// ---- encoding ----

/** Bytes of the v5 property list encodePublishAt writes (without its length varint). */
function propsLength(props: Buffer | null, expiry: number, subIds: readonly number[] | null, alias: number): number {
  let plen = 0;
  if (expiry >= 0) plen += 5;
  if (alias > 0) plen += 3;
  if (props !== null) plen += props.length;
  if (subIds !== null) for (let i = 0; i < subIds.length; i++) plen += 1 + varintLength(subIds[i]!);
  return plen;
}

function remainingLength(tlen: number, qos: number, version: number, plen: number, payloadLen: number): number {
  return 2 + tlen + (qos > 0 ? 2 : 0) + (version === 5 ? varintLength(plen) + plen : 0) + payloadLen;
}

/** The Remaining Length of the PUBLISH encodePublish / encodePublishAt write for these arguments. */
export function publishRemaining(
  topic: string, payload: Buffer, qos: number, version: number, props: Buffer | null, expiry: number,
  subIds: readonly number[] | null, alias: number, sendTopic: boolean,
): number {
  return remainingLength(sendTopic ? Buffer.byteLength(topic) : 0, qos, version, version === 5 ? propsLength(props, expiry, subIds, alias) : 0, payload.length);
}

/** The whole packet's length for a Remaining Length of `rem`. */
export function packetLength(rem: number): number { return 1 + varintLength(rem) + rem; }

/**
 * Encodes a PUBLISH. packetId 0 for QoS 0 (or as a template whose id is patched later with
 * `patchPacketId`). `expiry` < 0 omits Message Expiry; `subIds`/`alias` are per-subscriber v5 extras.
 */
export function encodePublish(
  topic: string, payload: Buffer, qos: number, retain: boolean, dup: boolean, packetId: number,
  version: number, props: Buffer | null, expiry: number, subIds: readonly number[] | null, alias: number, sendTopic: boolean,
): Buffer {
  const rem = publishRemaining(topic, payload, qos, version, props, expiry, subIds, alias, sendTopic);
  const buf = Buffer.allocUnsafe(packetLength(rem));
  encodePublishAt(buf, 0, rem, topic, payload, qos, retain, dup, packetId, version, props, expiry, subIds, alias);
  return buf;
}

/**
 * encodePublish into `buf` at `at`, which has room for packetLength(rem) bytes (a connection's
 * output slab: a queued message goes out without a buffer of its own). `rem` is
 * publishRemaining(...) of the same arguments: the topic is not measured twice.
 */
export function encodePublishAt(
  buf: Buffer, at: number, rem: number, topic: string, payload: Buffer, qos: number, retain: boolean, dup: boolean, packetId: number,
  version: number, props: Buffer | null, expiry: number, subIds: readonly number[] | null, alias: number,
): void {
  const plen = version === 5 ? propsLength(props, expiry, subIds, alias) : 0;
  // What is left of `rem` once the rest is counted: the topic's bytes (0 when it goes as an alias only).
  const tlen = rem - remainingLength(0, qos, version, plen, payload.length);
  buf[at] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = at + 1 + encodeVarint(rem, buf, at + 1);
  buf.writeUInt16BE(tlen, pos);
  pos += 2;
  if (tlen > 0) pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) { buf.writeUInt16BE(packetId, pos); pos += 2; }
  if (version === 5) {
    pos += encodeVarint(plen, buf, pos);
    if (expiry >= 0) { buf[pos++] = P_MESSAGE_EXPIRY; buf.writeUInt32BE(expiry, pos); pos += 4; }
    if (alias > 0) { buf[pos++] = P_TOPIC_ALIAS; buf.writeUInt16BE(alias, pos); pos += 2; }
    if (props !== null) pos += props.copy(buf, pos);
    if (subIds !== null) for (let i = 0; i < subIds.length; i++) { buf[pos++] = P_SUBSCRIPTION_ID; pos += encodeVarint(subIds[i]!, buf, pos); }
  }
  payload.copy(buf, pos);
}

/** Offset of the packet id inside an encoded PUBLISH (QoS > 0). */
export function packetIdOffset(encoded: Buffer): number {
  let pos = 1;
  while (encoded[pos]! & 0x80) pos++;
  pos++;
  return pos + 2 + encoded.readUInt16BE(pos);
}

/** A copy of a template with its packet id (and DUP flag) set: the template is shared by a whole fan-out. */
export function withPacketId(template: Buffer, idOffset: number, packetId: number, dup: boolean): Buffer {
  const out = Buffer.allocUnsafe(template.length);
  template.copy(out);
  out.writeUInt16BE(packetId, idOffset);
  if (dup) out[0] = out[0]! | 8;
  return out;
}

// Fast path for the common CONNECT: no will, and for MQTT 5 no properties. A broker at 100k
// clients spends a third of its CONNECT handling inside mqtt-packet (a BufferList, debug()
// calls and a packet object with many fields); this decodes the plain form straight from the
// bytes. Anything else — a will, v5 properties, bridge mode, reserved or will bits set, bytes
// left over, a field running past the end — returns null and goes through mqtt-packet, so
// both agree on whatever this accepts (checked differentially in test/protocol/connect-fast.test.ts).

/** The fields of a CONNECT the broker reads, as mqtt-packet names them. */
export interface FastConnect {
  cmd: 'connect';
  protocolId: 'MQTT' | 'MQIsdp';
  protocolVersion: 3 | 4 | 5;
  clean: boolean;
  keepalive: number;
  clientId: string;
  username?: string;
  password?: Buffer;
}

const USERNAME = 0x80;
const PASSWORD = 0x40;
/** Will retain, will QoS (2 bits), will flag and the reserved bit: any of them set means "not the plain form". */
const NOT_PLAIN = 0x3d;
const CLEAN = 0x02;

/** Decodes a whole CONNECT packet (`len` bytes from `off`, fixed header included), or null. */
export function decodeConnectFast(buf: Buffer, off: number, len: number): FastConnect | null {
  const end = off + len;
  if (len < 12 || buf[off] !== 0x10) return null;
  let pos = off + 1;
  // Remaining length: the framer has checked it; skip it.
  for (let i = 0; i < 4; i++) if ((buf[pos++]! & 0x80) === 0) break;
  if (pos + 2 > end) return null;
  const nameLen = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  let protocolId: FastConnect['protocolId'];
  let protocolVersion: FastConnect['protocolVersion'];
  if (nameLen === 4 && pos + 5 <= end && buf[pos] === 0x4d && buf[pos + 1] === 0x51 && buf[pos + 2] === 0x54 && buf[pos + 3] === 0x54) {
    protocolId = 'MQTT';
    const level = buf[pos + 4]!;
    if (level !== 4 && level !== 5) return null;
    protocolVersion = level;
    pos += 5;
  } else if (nameLen === 6 && pos + 7 <= end && buf.toString('latin1', pos, pos + 6) === 'MQIsdp') {
    protocolId = 'MQIsdp';
    if (buf[pos + 6] !== 3) return null;
    protocolVersion = 3;
    pos += 7;
  } else {
    return null;
  }
  if (pos + 3 > end) return null;
  const flags = buf[pos]!;
  if ((flags & NOT_PLAIN) !== 0) return null;
  const keepalive = (buf[pos + 1]! << 8) | buf[pos + 2]!;
  pos += 3;
  if (protocolVersion === 5) {
    if (pos >= end || buf[pos] !== 0) return null; // properties present: mqtt-packet decodes them
    pos++;
  }
  if (pos + 2 > end) return null;
  const idLen = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (pos + idLen > end) return null;
  const clientId = idLen === 0 ? '' : buf.toString('utf8', pos, pos + idLen);
  pos += idLen;
  const out: FastConnect = { cmd: 'connect', protocolId, protocolVersion, clean: (flags & CLEAN) !== 0, keepalive, clientId };
  if ((flags & USERNAME) !== 0) {
    if (pos + 2 > end) return null;
    const n = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (pos + n > end) return null;
    out.username = buf.toString('utf8', pos, pos + n);
    pos += n;
  }
  if ((flags & PASSWORD) !== 0) {
    if (pos + 2 > end) return null;
    const n = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (pos + n > end) return null;
    // A copy: an auth hook may keep it past this read (an async check).
    out.password = Buffer.from(buf.subarray(pos, pos + n));
    pos += n;
  }
  return pos === end ? out : null;
}

// LMDB keys for the store. lmdb-js orders array keys element by element (numbers before
// strings, strings by UTF-8 bytes), so ['o', clientId, seq] keeps a session's outbound
// queue contiguous and sorted by seq, and one range scan reads it in order.
//
// LMDB caps a key at 1978 bytes, but MQTT allows 65535-byte topics and client ids. A long
// topic or client id is replaced in its key by [0, sha256]: the number sorts apart from every
// string, so a hashed name can never collide with a literal one, and the full name is in
// the value anyway.
import { createHash } from 'node:crypto';

export type KeyPart = string | number | Uint8Array;
export type Key = KeyPart[];

/** ordered-binary's MAXIMUM_KEY: sorts after any primitive, so [...prefix, MAX] ends a prefix range. */
const MAX = new Uint8Array([0xff]);
/** Byte length above which a name is hashed; leaves room for escaping and the other parts. */
export const MAX_LITERAL_NAME_BYTES = 512;

export const META_KEY: Key = ['meta'];

function name(s: string): KeyPart[] {
  // A UTF-16 unit is at most 3 UTF-8 bytes: skip the byte count for the common short name.
  if (s.length * 3 <= MAX_LITERAL_NAME_BYTES || Buffer.byteLength(s, 'utf8') <= MAX_LITERAL_NAME_BYTES) return [s];
  return [0, createHash('sha256').update(s, 'utf8').digest('base64url')];
}

export const retainedKey = (topic: string): Key => ['r', ...name(topic)];
export const sessionKey = (clientId: string): Key => ['s', ...name(clientId)];
export const outboundKey = (clientId: string, seq: number): Key => ['o', ...name(clientId), seq];
export const bannedKey = (clientId: string): Key => ['b', ...name(clientId)];
export const inboundKey = (clientId: string, packetId: number): Key => ['q', ...name(clientId), packetId];

export interface Range { start: Key; end: Key }

const prefixRange = (prefix: Key): Range => ({ start: prefix, end: [...prefix, MAX] });

export const retainedRange = (): Range => prefixRange(['r']);
export const bannedRange = (): Range => prefixRange(['b']);
export const sessionRange = (): Range => prefixRange(['s']);
export const outboundRange = (clientId: string): Range => prefixRange(['o', ...name(clientId)]);
export const inboundRange = (clientId: string): Range => prefixRange(['q', ...name(clientId)]);

/** The trailing number of an outbound or inbound key (seq, packet id). */
export function lastNumber(key: unknown): number {
  if (Array.isArray(key)) {
    const v: unknown = key[key.length - 1];
    if (typeof v === 'number') return v;
  }
  throw new TypeError(`unexpected store key ${JSON.stringify(key)}`);
}

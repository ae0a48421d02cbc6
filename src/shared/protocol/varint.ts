// Variable Byte Integer (spec §1.5.5): 7 bits per byte, high bit = "more follows",
// at most 4 bytes, so at most 268,435,455.
import { MAX_VARINT } from './constants.ts';

/** `bytes` value when the integer runs past 4 bytes: a Malformed Packet */
export const VARINT_MALFORMED = -1;
/** `bytes` value when the input ends before the last byte: wait for more data */
export const VARINT_INCOMPLETE = 0;

export interface VarintResult {
  value: number;
  /** bytes consumed (1–4), or VARINT_INCOMPLETE / VARINT_MALFORMED */
  bytes: number;
}

/** Bytes needed to encode `value`; throws for values the wire cannot carry. */
export function varintLength(value: number): 1 | 2 | 3 | 4 {
  if (value < 0x80 && value >= 0) return 1;
  if (value < 0x4000 && value >= 0) return 2;
  if (value < 0x20_0000 && value >= 0) return 3;
  if (value <= MAX_VARINT && value >= 0) return 4;
  throw new RangeError(`varint out of range: ${value}`);
}

/** Writes `value` at `offset`; returns the bytes written. The caller sized `buf`. */
export function encodeVarint(value: number, buf: Uint8Array, offset: number): number {
  if (!(value >= 0 && value <= MAX_VARINT && Number.isInteger(value))) {
    throw new RangeError(`varint out of range: ${value}`);
  }
  let pos = offset;
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (value > 0);
  return pos - offset;
}

export function varintBuffer(value: number): Buffer {
  const buf = Buffer.allocUnsafe(varintLength(value));
  encodeVarint(value, buf, 0);
  return buf;
}

/**
 * Reads a varint at `offset`, looking no further than `end`. Non-minimal encodings
 * (e.g. 0x80 0x00) are accepted, as mqtt-packet does; [MQTT-1.5.5-1] binds the sender.
 */
export function decodeVarint(buf: Uint8Array, offset: number, end: number = buf.length): VarintResult {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= end) return { value: 0, bytes: VARINT_INCOMPLETE };
    const byte = buf[offset + i];
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 };
    mul *= 0x80;
  }
  return { value: 0, bytes: VARINT_MALFORMED };
}

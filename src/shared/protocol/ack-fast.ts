// Fast path for the ack family and PINGREQ: the canonical short forms (no reason code, no
// properties) that make up nearly all of them are recognised from their bytes, without the
// reference codec (mqtt-packet costs an object, a parser pass and debug() calls per packet).
// Anything else returns -1 and goes through mqtt-packet, so both always agree (checked
// differentially in test/protocol/ack-fast.test.ts).

/** First byte of each ack in its only valid form (PUBREL carries flags 0b0010). */
export const ACK_FIRST_BYTE = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70 } as const;

/**
 * The packet id of a 4-byte ack `[first, 2, idHi, idLo]` whose first byte is `first`; -1 when
 * the packet is in any other form (reason code, properties, wrong flags, id 0).
 */
export function shortAckId(buf: Uint8Array, off: number, len: number, first: number): number {
  if (len !== 4 || buf[off] !== first || buf[off + 1] !== 2) return -1;
  const id = (buf[off + 2]! << 8) | buf[off + 3]!;
  return id === 0 ? -1 : id;
}

/** True for the one valid PINGREQ `[0xC0, 0x00]`. */
export function isPingreq(buf: Uint8Array, off: number, len: number): boolean {
  return len === 2 && buf[off] === 0xc0 && buf[off + 1] === 0;
}

// The short acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP, a 3.1.1 UNSUBACK, which has the
// same shape, and the 3.1.1 CONNACK), hand-encoded: they are the second-hottest packets. v5
// omits a Success reason code (the 2-byte form) [MQTT-3.4.2-1].
export const AckType = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70, UNSUBACK: 0xb0 } as const;

export function encodeAck(type: number, packetId: number, reason: number, version: number): Buffer {
  return version === 5 && reason !== 0
    ? Buffer.from([type, 3, packetId >> 8, packetId & 0xff, reason])
    : Buffer.from([type, 2, packetId >> 8, packetId & 0xff]);
}

/** A 3.1/3.1.1 CONNACK: Session Present and the return code. */
export function encodeConnackV3(sessionPresent: boolean, returnCode: number): Buffer {
  return Buffer.from([0x20, 2, sessionPresent ? 1 : 0, returnCode]);
}

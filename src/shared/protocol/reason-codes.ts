// Every MQTT 5 reason code (spec §2.4, table 2-6) in one table, with where each may be
// sent, and the fold of a v5 CONNACK reason onto a 3.1/3.1.1 CONNACK return code.
import { PacketType } from './constants.ts';

export interface ReasonCodeSpec {
  readonly value: number;
  readonly name: string;
  /** the spec's wording, for logs and reason strings */
  readonly text: string;
  readonly packets: readonly PacketType[];
}

const P = PacketType;
const CONNACK = P.CONNACK, PUBACK = P.PUBACK, PUBREC = P.PUBREC, PUBREL = P.PUBREL,
  PUBCOMP = P.PUBCOMP, SUBACK = P.SUBACK, UNSUBACK = P.UNSUBACK, DISCONNECT = P.DISCONNECT,
  AUTH = P.AUTH;
const ERR_COMMON = [CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT] as const;

function rc(value: number, name: string, text: string, packets: readonly PacketType[]): ReasonCodeSpec {
  return Object.freeze({ value, name, text, packets: Object.freeze(packets) });
}

export const REASON_CODES: readonly ReasonCodeSpec[] = Object.freeze([
  rc(0x00, 'SUCCESS', 'Success', [CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH]),
  rc(0x00, 'NORMAL_DISCONNECTION', 'Normal disconnection', [DISCONNECT]),
  rc(0x00, 'GRANTED_QOS_0', 'Granted QoS 0', [SUBACK]),
  rc(0x01, 'GRANTED_QOS_1', 'Granted QoS 1', [SUBACK]),
  rc(0x02, 'GRANTED_QOS_2', 'Granted QoS 2', [SUBACK]),
  rc(0x04, 'DISCONNECT_WITH_WILL', 'Disconnect with Will Message', [DISCONNECT]),
  rc(0x10, 'NO_MATCHING_SUBSCRIBERS', 'No matching subscribers', [PUBACK, PUBREC]),
  rc(0x11, 'NO_SUBSCRIPTION_EXISTED', 'No subscription existed', [UNSUBACK]),
  rc(0x18, 'CONTINUE_AUTHENTICATION', 'Continue authentication', [AUTH]),
  rc(0x19, 'REAUTHENTICATE', 'Re-authenticate', [AUTH]),
  rc(0x80, 'UNSPECIFIED_ERROR', 'Unspecified error', ERR_COMMON),
  rc(0x81, 'MALFORMED_PACKET', 'Malformed Packet', [CONNACK, DISCONNECT]),
  rc(0x82, 'PROTOCOL_ERROR', 'Protocol Error', [CONNACK, DISCONNECT]),
  rc(0x83, 'IMPLEMENTATION_SPECIFIC_ERROR', 'Implementation specific error', ERR_COMMON),
  rc(0x84, 'UNSUPPORTED_PROTOCOL_VERSION', 'Unsupported Protocol Version', [CONNACK]),
  rc(0x85, 'CLIENT_IDENTIFIER_NOT_VALID', 'Client Identifier not valid', [CONNACK]),
  rc(0x86, 'BAD_USER_NAME_OR_PASSWORD', 'Bad User Name or Password', [CONNACK]),
  rc(0x87, 'NOT_AUTHORIZED', 'Not authorized', ERR_COMMON),
  rc(0x88, 'SERVER_UNAVAILABLE', 'Server unavailable', [CONNACK]),
  rc(0x89, 'SERVER_BUSY', 'Server busy', [CONNACK, DISCONNECT]),
  rc(0x8a, 'BANNED', 'Banned', [CONNACK]),
  rc(0x8b, 'SERVER_SHUTTING_DOWN', 'Server shutting down', [DISCONNECT]),
  // Table 2-6 also lists DISCONNECT, but the DISCONNECT packet's own table (§3.14.2.1)
  // omits it and mqtt-packet (so MQTT.js) rejects it there: the packet's table wins.
  rc(0x8c, 'BAD_AUTHENTICATION_METHOD', 'Bad authentication method', [CONNACK]),
  rc(0x8d, 'KEEP_ALIVE_TIMEOUT', 'Keep Alive timeout', [DISCONNECT]),
  rc(0x8e, 'SESSION_TAKEN_OVER', 'Session taken over', [DISCONNECT]),
  rc(0x8f, 'TOPIC_FILTER_INVALID', 'Topic Filter invalid', [SUBACK, UNSUBACK, DISCONNECT]),
  rc(0x90, 'TOPIC_NAME_INVALID', 'Topic Name invalid', [CONNACK, PUBACK, PUBREC, DISCONNECT]),
  rc(0x91, 'PACKET_IDENTIFIER_IN_USE', 'Packet Identifier in use', [PUBACK, PUBREC, SUBACK, UNSUBACK]),
  rc(0x92, 'PACKET_IDENTIFIER_NOT_FOUND', 'Packet Identifier not found', [PUBREL, PUBCOMP]),
  rc(0x93, 'RECEIVE_MAXIMUM_EXCEEDED', 'Receive Maximum exceeded', [DISCONNECT]),
  rc(0x94, 'TOPIC_ALIAS_INVALID', 'Topic Alias invalid', [DISCONNECT]),
  rc(0x95, 'PACKET_TOO_LARGE', 'Packet too large', [CONNACK, DISCONNECT]),
  rc(0x96, 'MESSAGE_RATE_TOO_HIGH', 'Message rate too high', [DISCONNECT]),
  rc(0x97, 'QUOTA_EXCEEDED', 'Quota exceeded', [CONNACK, PUBACK, PUBREC, SUBACK, DISCONNECT]),
  rc(0x98, 'ADMINISTRATIVE_ACTION', 'Administrative action', [DISCONNECT]),
  rc(0x99, 'PAYLOAD_FORMAT_INVALID', 'Payload format invalid', [CONNACK, PUBACK, PUBREC, DISCONNECT]),
  rc(0x9a, 'RETAIN_NOT_SUPPORTED', 'Retain not supported', [CONNACK, DISCONNECT]),
  rc(0x9b, 'QOS_NOT_SUPPORTED', 'QoS not supported', [CONNACK, DISCONNECT]),
  rc(0x9c, 'USE_ANOTHER_SERVER', 'Use another server', [CONNACK, DISCONNECT]),
  rc(0x9d, 'SERVER_MOVED', 'Server moved', [CONNACK, DISCONNECT]),
  rc(0x9e, 'SHARED_SUBSCRIPTIONS_NOT_SUPPORTED', 'Shared Subscriptions not supported', [SUBACK, DISCONNECT]),
  rc(0x9f, 'CONNECTION_RATE_EXCEEDED', 'Connection rate exceeded', [CONNACK, DISCONNECT]),
  rc(0xa0, 'MAXIMUM_CONNECT_TIME', 'Maximum connect time', [DISCONNECT]),
  rc(0xa1, 'SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED', 'Subscription Identifiers not supported', [SUBACK, DISCONNECT]),
  rc(0xa2, 'WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED', 'Wildcard Subscriptions not supported', [SUBACK, DISCONNECT]),
]);

// Written out (not derived from the table) so the names are literal types the compiler
// checks at every use; a unit test proves it agrees with REASON_CODES.
export const Reason = {
  SUCCESS: 0x00,
  NORMAL_DISCONNECTION: 0x00,
  GRANTED_QOS_0: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  CONTINUE_AUTHENTICATION: 0x18,
  REAUTHENTICATE: 0x19,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  USE_ANOTHER_SERVER: 0x9c,
  SERVER_MOVED: 0x9d,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  MAXIMUM_CONNECT_TIME: 0xa0,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;
export type ReasonName = keyof typeof Reason;
export type ReasonCode = (typeof Reason)[ReasonName];

// value → specs sharing it (only 0x00 has several), for reasonName and validity checks.
const BY_VALUE: (ReasonCodeSpec[] | undefined)[] = new Array(256).fill(undefined);
for (const spec of REASON_CODES) (BY_VALUE[spec.value] ??= []).push(spec);

/** Spec entry for a code; `packetType` picks among codes sharing a value (0x00). */
export function reasonSpec(code: number, packetType?: number): ReasonCodeSpec | undefined {
  if (!(code >= 0 && code <= 0xff)) return undefined;
  const specs = BY_VALUE[code];
  if (specs === undefined) return undefined;
  if (packetType !== undefined) {
    for (const s of specs) if (s.packets.includes(packetType as PacketType)) return s;
  }
  return specs[0];
}

/**
 * Symbolic name for logs. Never throws and always returns a string, so it is safe on
 * values read off the wire: an unknown code reads `UNKNOWN_0x05`.
 */
export function reasonName(code: number, packetType?: number): string {
  const spec = reasonSpec(code, packetType);
  if (spec !== undefined) return spec.name;
  return 'UNKNOWN_0x' + (code >>> 0).toString(16).padStart(2, '0');
}

/** Whether `code` may be sent in `packetType` (receiving any other is a Malformed Packet). */
export function isReasonValidFor(code: number, packetType: number): boolean {
  if (!(code >= 0 && code <= 0xff)) return false;
  const specs = BY_VALUE[code];
  if (specs === undefined) return false;
  for (const s of specs) if (s.packets.includes(packetType as PacketType)) return true;
  return false;
}

/** Reason codes ≥ 0x80 mean failure (§2.4) */
export function isFailure(code: number): boolean {
  return code >= 0x80;
}

// ---------------------------------------------------------------------------------------
// 3.1 / 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3)

export const ConnackReturnCodeV3 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USER_NAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;
export type ConnackReturnCodeV3 = (typeof ConnackReturnCodeV3)[keyof typeof ConnackReturnCodeV3];

/**
 * Folds a v5 CONNACK reason onto the six codes 3.1/3.1.1 know. Refusals that are the
 * client's identity or credentials keep that meaning; everything else is "server
 * unavailable", the only v3 code a client treats as "retry later".
 * Note: for MALFORMED_PACKET and PROTOCOL_ERROR a 3.1.1 server sends no CONNACK at all and
 * just closes [MQTT-3.1.4-1]; see `closesWithoutConnackV3`.
 */
export function connackReturnCodeV3(reason: number): ConnackReturnCodeV3 {
  switch (reason) {
    case Reason.SUCCESS:
      return ConnackReturnCodeV3.ACCEPTED;
    case Reason.UNSUPPORTED_PROTOCOL_VERSION:
      return ConnackReturnCodeV3.UNACCEPTABLE_PROTOCOL_VERSION;
    case Reason.CLIENT_IDENTIFIER_NOT_VALID:
      return ConnackReturnCodeV3.IDENTIFIER_REJECTED;
    case Reason.BAD_USER_NAME_OR_PASSWORD:
      return ConnackReturnCodeV3.BAD_USER_NAME_OR_PASSWORD;
    case Reason.NOT_AUTHORIZED:
    case Reason.BANNED:
    case Reason.BAD_AUTHENTICATION_METHOD:
      return ConnackReturnCodeV3.NOT_AUTHORIZED;
    default:
      return ConnackReturnCodeV3.SERVER_UNAVAILABLE;
  }
}

/** 3.1.1 answers a malformed or protocol-violating CONNECT by closing, with no CONNACK. */
export function closesWithoutConnackV3(reason: number): boolean {
  return reason === Reason.MALFORMED_PACKET || reason === Reason.PROTOCOL_ERROR;
}

// Wire-level constants of MQTT 3.1, 3.1.1 and 5.0, plus the broker's default limits.
// Pure data: no imports from the broker, safe to load in every thread.

export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

// Indexed by the type nibble so a lookup is one array load; 0 is the reserved type.
export const PACKET_NAMES: readonly string[] = Object.freeze([
  'RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
]);

// mqtt-packet's `cmd` strings, same indexing, so code holding a decoded packet can map back.
export const PACKET_CMDS: readonly string[] = Object.freeze([
  'reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
]);

// Low nibble of the first byte that every packet but PUBLISH must carry [MQTT-2.2.2-1];
// -1 for PUBLISH (its nibble is DUP/QoS/RETAIN) and for the reserved type 0.
export const REQUIRED_HEADER_FLAGS: readonly number[] = Object.freeze([
  -1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0,
]);

export const HeaderFlag = {
  RETAIN: 0x01,
  QOS_MASK: 0x06,
  QOS_SHIFT: 1,
  DUP: 0x08,
} as const;

export const ConnectFlag = {
  RESERVED: 0x01,
  CLEAN_START: 0x02, // "Clean Session" in 3.1/3.1.1
  WILL: 0x04,
  WILL_QOS_MASK: 0x18,
  WILL_QOS_SHIFT: 3,
  WILL_RETAIN: 0x20,
  PASSWORD: 0x40,
  USERNAME: 0x80,
} as const;

export const SubscribeOption = {
  QOS_MASK: 0x03,
  NO_LOCAL: 0x04,
  RETAIN_AS_PUBLISHED: 0x08,
  RETAIN_HANDLING_MASK: 0x30,
  RETAIN_HANDLING_SHIFT: 4,
  // Bits that must be zero: 7-2 in 3.1.1 [MQTT-3.8.3-4], 7-6 in 5.0 [MQTT-3.8.3-5].
  RESERVED_V4: 0xfc,
  RESERVED_V5: 0xc0,
} as const;

// ---------------------------------------------------------------------------------------
// Protocol versions (the "Protocol Level" byte of CONNECT)

export const V31 = 3;
export const V311 = 4;
export const V5 = 5;
export const ProtocolVersion = { V31, V311, V5 } as const;
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion];

export const PROTOCOL_NAME_V31 = 'MQIsdp';
export const PROTOCOL_NAME = 'MQTT';
export const PROTOCOL_NAMES: Readonly<Record<ProtocolVersion, string>> = Object.freeze({
  [V31]: PROTOCOL_NAME_V31,
  [V311]: PROTOCOL_NAME,
  [V5]: PROTOCOL_NAME,
});

/**
 * Mosquitto's bridge flag: a bridge connects with protocol level | 0x80 (`try_private`), asking
 * the broker not to send back what it published and to keep the retain flag as published.
 */
export const BRIDGE_PROTOCOL_FLAG = 0x80;

export function isSupportedProtocolVersion(level: number): level is ProtocolVersion {
  return level === V31 || level === V311 || level === V5;
}

// ---------------------------------------------------------------------------------------
// MQTT 5 properties (spec §2.2.2.2)

export const PropertyWireType = {
  BYTE: 'byte',
  TWO_BYTE_INT: 'uint16',
  FOUR_BYTE_INT: 'uint32',
  VARINT: 'varint',
  UTF8_STRING: 'string',
  BINARY: 'binary',
  STRING_PAIR: 'pair',
} as const;
export type PropertyWireType = (typeof PropertyWireType)[keyof typeof PropertyWireType];

export const Property = {
  PAYLOAD_FORMAT_INDICATOR: 0x01,
  MESSAGE_EXPIRY_INTERVAL: 0x02,
  CONTENT_TYPE: 0x03,
  RESPONSE_TOPIC: 0x08,
  CORRELATION_DATA: 0x09,
  SUBSCRIPTION_IDENTIFIER: 0x0b,
  SESSION_EXPIRY_INTERVAL: 0x11,
  ASSIGNED_CLIENT_IDENTIFIER: 0x12,
  SERVER_KEEP_ALIVE: 0x13,
  AUTHENTICATION_METHOD: 0x15,
  AUTHENTICATION_DATA: 0x16,
  REQUEST_PROBLEM_INFORMATION: 0x17,
  WILL_DELAY_INTERVAL: 0x18,
  REQUEST_RESPONSE_INFORMATION: 0x19,
  RESPONSE_INFORMATION: 0x1a,
  SERVER_REFERENCE: 0x1c,
  REASON_STRING: 0x1f,
  RECEIVE_MAXIMUM: 0x21,
  TOPIC_ALIAS_MAXIMUM: 0x22,
  TOPIC_ALIAS: 0x23,
  MAXIMUM_QOS: 0x24,
  RETAIN_AVAILABLE: 0x25,
  USER_PROPERTY: 0x26,
  MAXIMUM_PACKET_SIZE: 0x27,
  WILDCARD_SUBSCRIPTION_AVAILABLE: 0x28,
  SUBSCRIPTION_IDENTIFIERS_AVAILABLE: 0x29,
  SHARED_SUBSCRIPTION_AVAILABLE: 0x2a,
} as const;
export type PropertyId = (typeof Property)[keyof typeof Property];

export interface PropertySpec {
  readonly id: PropertyId;
  /** mqtt-packet's key in `packet.properties` */
  readonly name: string;
  readonly type: PropertyWireType;
  /** packets whose property list may carry it */
  readonly packets: readonly PacketType[];
  /** allowed in the Will Properties of CONNECT */
  readonly will: boolean;
  /**
   * packets where it may appear more than once; everywhere else a repeat is a Protocol
   * Error. Subscription Identifier repeats only in server→client PUBLISH (one per matching
   * subscription); a client must not send it in PUBLISH at all [MQTT-3.3.4-6].
   */
  readonly repeatableIn: readonly PacketType[];
}

const P = PacketType;
const T = PropertyWireType;
const ACKS = [P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP] as const;
const USER_PROPERTY_PACKETS: readonly PacketType[] = [
  P.CONNECT, P.CONNACK, P.PUBLISH, ...ACKS, P.SUBSCRIBE, P.SUBACK,
  P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH,
];

function prop(
  id: PropertyId, name: string, type: PropertyWireType, packets: readonly PacketType[],
  will = false, repeatableIn: readonly PacketType[] = [],
): PropertySpec {
  return Object.freeze({ id, name, type, packets: Object.freeze(packets), will, repeatableIn: Object.freeze(repeatableIn) });
}

export const PROPERTIES: readonly PropertySpec[] = Object.freeze([
  prop(Property.PAYLOAD_FORMAT_INDICATOR, 'payloadFormatIndicator', T.BYTE, [P.PUBLISH], true),
  prop(Property.MESSAGE_EXPIRY_INTERVAL, 'messageExpiryInterval', T.FOUR_BYTE_INT, [P.PUBLISH], true),
  prop(Property.CONTENT_TYPE, 'contentType', T.UTF8_STRING, [P.PUBLISH], true),
  prop(Property.RESPONSE_TOPIC, 'responseTopic', T.UTF8_STRING, [P.PUBLISH], true),
  prop(Property.CORRELATION_DATA, 'correlationData', T.BINARY, [P.PUBLISH], true),
  prop(Property.SUBSCRIPTION_IDENTIFIER, 'subscriptionIdentifier', T.VARINT, [P.PUBLISH, P.SUBSCRIBE], false, [P.PUBLISH]),
  prop(Property.SESSION_EXPIRY_INTERVAL, 'sessionExpiryInterval', T.FOUR_BYTE_INT, [P.CONNECT, P.CONNACK, P.DISCONNECT]),
  prop(Property.ASSIGNED_CLIENT_IDENTIFIER, 'assignedClientIdentifier', T.UTF8_STRING, [P.CONNACK]),
  prop(Property.SERVER_KEEP_ALIVE, 'serverKeepAlive', T.TWO_BYTE_INT, [P.CONNACK]),
  prop(Property.AUTHENTICATION_METHOD, 'authenticationMethod', T.UTF8_STRING, [P.CONNECT, P.CONNACK, P.AUTH]),
  prop(Property.AUTHENTICATION_DATA, 'authenticationData', T.BINARY, [P.CONNECT, P.CONNACK, P.AUTH]),
  prop(Property.REQUEST_PROBLEM_INFORMATION, 'requestProblemInformation', T.BYTE, [P.CONNECT]),
  prop(Property.WILL_DELAY_INTERVAL, 'willDelayInterval', T.FOUR_BYTE_INT, [], true),
  prop(Property.REQUEST_RESPONSE_INFORMATION, 'requestResponseInformation', T.BYTE, [P.CONNECT]),
  prop(Property.RESPONSE_INFORMATION, 'responseInformation', T.UTF8_STRING, [P.CONNACK]),
  prop(Property.SERVER_REFERENCE, 'serverReference', T.UTF8_STRING, [P.CONNACK, P.DISCONNECT]),
  prop(Property.REASON_STRING, 'reasonString', T.UTF8_STRING,
    [P.CONNACK, ...ACKS, P.SUBACK, P.UNSUBACK, P.DISCONNECT, P.AUTH]),
  prop(Property.RECEIVE_MAXIMUM, 'receiveMaximum', T.TWO_BYTE_INT, [P.CONNECT, P.CONNACK]),
  prop(Property.TOPIC_ALIAS_MAXIMUM, 'topicAliasMaximum', T.TWO_BYTE_INT, [P.CONNECT, P.CONNACK]),
  prop(Property.TOPIC_ALIAS, 'topicAlias', T.TWO_BYTE_INT, [P.PUBLISH]),
  prop(Property.MAXIMUM_QOS, 'maximumQoS', T.BYTE, [P.CONNACK]),
  prop(Property.RETAIN_AVAILABLE, 'retainAvailable', T.BYTE, [P.CONNACK]),
  prop(Property.USER_PROPERTY, 'userProperties', T.STRING_PAIR, USER_PROPERTY_PACKETS, true, USER_PROPERTY_PACKETS),
  prop(Property.MAXIMUM_PACKET_SIZE, 'maximumPacketSize', T.FOUR_BYTE_INT, [P.CONNECT, P.CONNACK]),
  prop(Property.WILDCARD_SUBSCRIPTION_AVAILABLE, 'wildcardSubscriptionAvailable', T.BYTE, [P.CONNACK]),
  prop(Property.SUBSCRIPTION_IDENTIFIERS_AVAILABLE, 'subscriptionIdentifiersAvailable', T.BYTE, [P.CONNACK]),
  prop(Property.SHARED_SUBSCRIPTION_AVAILABLE, 'sharedSubscriptionAvailable', T.BYTE, [P.CONNACK]),
]);

// Dense by id (all ids are < 0x2b) so a decoder's lookup is an array load, not a hash.
const BY_ID: (PropertySpec | undefined)[] = new Array(0x2b).fill(undefined);
const BY_NAME = new Map<string, PropertySpec>();
for (const p of PROPERTIES) {
  BY_ID[p.id] = p;
  BY_NAME.set(p.name, p);
}

export function propertySpec(id: number): PropertySpec | undefined {
  return BY_ID[id];
}

export function propertySpecByName(name: string): PropertySpec | undefined {
  return BY_NAME.get(name);
}

/**
 * Whether property `id` may appear in `packetType` (or, with `inWill`, in the Will
 * Properties). An identifier not valid for its packet is a Malformed Packet (§2.2.2.2).
 */
export function isPropertyAllowed(id: number, packetType: number, inWill = false): boolean {
  const spec = BY_ID[id];
  if (spec === undefined) return false;
  return inWill ? spec.will : spec.packets.includes(packetType as PacketType);
}

/** Whether a second occurrence of `id` in `packetType` is allowed (else Protocol Error). */
export function isPropertyRepeatable(id: number, packetType: number): boolean {
  const spec = BY_ID[id];
  return spec !== undefined && spec.repeatableIn.includes(packetType as PacketType);
}

// ---------------------------------------------------------------------------------------
// Wire limits fixed by the specification

/** 4 varint bytes of 7 bits [MQTT-1.5.5 / 2.2.3] */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** 1 type byte + 4 length bytes + body: the largest packet the wire format can carry */
export const MAX_WIRE_PACKET_SIZE = 1 + 4 + MAX_REMAINING_LENGTH;
export const MAX_VARINT = MAX_REMAINING_LENGTH;
/** UTF-8 strings and binary data carry a two-byte length */
export const MAX_STRING_BYTES = 65_535;
export const MAX_PACKET_ID = 65_535;
export const MAX_TOPIC_ALIAS = 65_535;
export const MAX_KEEP_ALIVE = 65_535;
export const MAX_SUBSCRIPTION_IDENTIFIER = MAX_VARINT;
/** Session Expiry Interval meaning "never expires" (v5 §3.1.2.11.2) */
export const SESSION_EXPIRY_NEVER = 0xffff_ffff;
/** Receive Maximum assumed when the property is absent (v5 §3.1.2.11.3) */
export const SPEC_RECEIVE_MAXIMUM_WHEN_ABSENT = 65_535;
/** Topic Alias Maximum assumed when absent: no aliases (v5 §3.1.2.11.5) */
export const SPEC_TOPIC_ALIAS_MAXIMUM_WHEN_ABSENT = 0;
/** Client id length every server must accept [MQTT-3.1.3-5] */
export const SPEC_MIN_CLIENT_ID_LENGTH = 23;
/** A server disconnects after 1.5 × keep alive without a packet [MQTT-3.1.2-24] */
export const KEEP_ALIVE_GRACE_FACTOR = 1.5;

// ---------------------------------------------------------------------------------------
// Broker defaults (configurable; these are what an unconfigured broker enforces/advertises)

/**
 * 1 MiB. Every connection may hold one partly received packet in memory, so this bounds
 * the worst case a slow or hostile client can pin (100k connections × 1 MiB is already a
 * lot). Telemetry and command payloads are far below it; the same default as EMQX, and
 * above the cloud brokers' 128–256 KiB, so clients moving from those are not refused.
 * Deployments shipping firmware images over MQTT raise it explicitly.
 */
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;

/**
 * Inbound QoS 1/2 messages a client may have unacknowledged. The packet-id space already
 * bounds this state to 64k small entries per client, and PUBACK goes out as soon as the
 * message is durable, so a lower number would only throttle pipelining publishers;
 * overload is handled by pausing the socket, not by this window.
 */
export const DEFAULT_RECEIVE_MAXIMUM = 65_535;

/**
 * Client→broker topic aliases per connection. Each alias pins a topic string per
 * connection; 64 covers the usual "few hot topics per device" case while capping that
 * memory at 100k-connection scale.
 */
export const DEFAULT_TOPIC_ALIAS_MAXIMUM = 64;

/**
 * Longest client id accepted, in UTF-8 bytes. Well above the spec's guaranteed 23 and the
 * 128 used by cloud device registries; small enough to stay a cheap key in LMDB (whose key
 * limit is ~2 KiB) together with the prefixes the store adds.
 */
export const MAX_CLIENT_ID_LENGTH = 256;

/** Highest QoS the broker grants by default */
export const DEFAULT_MAXIMUM_QOS = 2;

/** Client ids of the bridges' local sessions ($bridge/<name>): only the broker itself may connect with one. */
export const BRIDGE_ID_PREFIX = '$bridge/';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  PacketType, PACKET_NAMES, PACKET_CMDS, REQUIRED_HEADER_FLAGS, PROPERTIES, Property, PropertyWireType,
  propertySpec, propertySpecByName, isPropertyAllowed, isPropertyRepeatable, V31, V311, V5,
  PROTOCOL_NAMES, ProtocolVersion, isSupportedProtocolVersion, MAX_REMAINING_LENGTH, MAX_WIRE_PACKET_SIZE,
  DEFAULT_MAX_PACKET_SIZE, DEFAULT_RECEIVE_MAXIMUM, DEFAULT_TOPIC_ALIAS_MAXIMUM, MAX_CLIENT_ID_LENGTH,
  SPEC_MIN_CLIENT_ID_LENGTH,
} from '../../src/shared/protocol/constants.ts';

// mqtt-packet's tables are the reference; they ship without types, so describe what we read.
interface MqttPacketConstants {
  types: Record<number, string>;
  properties: Record<string, number>;
  propertiesTypes: Record<string, string>;
  requiredHeaderFlags: Record<number, number>;
}
const ref = createRequire(import.meta.url)('mqtt-packet/constants.js') as MqttPacketConstants;

test('packet types are 1..15 and agree with mqtt-packet', () => {
  const values = Object.values(PacketType);
  assert.deepEqual(values, Array.from({ length: 15 }, (_, i) => i + 1));
  for (const [name, value] of Object.entries(PacketType)) {
    assert.equal(PACKET_NAMES[value], name);
    assert.equal(PACKET_CMDS[value], ref.types[value]);
  }
});

test('[MQTT-2.2.2-1] required fixed-header flags agree with mqtt-packet', () => {
  for (let t = 1; t <= 15; t++) {
    if (t === PacketType.PUBLISH) assert.equal(REQUIRED_HEADER_FLAGS[t], -1);
    else assert.equal(REQUIRED_HEADER_FLAGS[t], ref.requiredHeaderFlags[t], PACKET_NAMES[t]);
  }
  assert.equal(REQUIRED_HEADER_FLAGS[PacketType.PUBREL], 2);
  assert.equal(REQUIRED_HEADER_FLAGS[PacketType.SUBSCRIBE], 2);
  assert.equal(REQUIRED_HEADER_FLAGS[PacketType.UNSUBSCRIBE], 2);
});

test('protocol versions and names: 3.1 is MQIsdp, 3.1.1 and 5 are MQTT', () => {
  assert.deepEqual([V31, V311, V5], [3, 4, 5]);
  assert.deepEqual(ProtocolVersion, { V31: 3, V311: 4, V5: 5 });
  assert.equal(PROTOCOL_NAMES[3], 'MQIsdp');
  assert.equal(PROTOCOL_NAMES[4], 'MQTT');
  assert.equal(PROTOCOL_NAMES[5], 'MQTT');
  assert.ok(isSupportedProtocolVersion(4));
  assert.ok(!isSupportedProtocolVersion(6));
  assert.ok(!isSupportedProtocolVersion(0x84), 'the bridge bit is not a version');
});

test('property table: every MQTT 5 property id, with mqtt-packet names and ids', () => {
  assert.equal(PROPERTIES.length, 27);
  assert.equal(Object.keys(ref.properties).length, 27);
  for (const [name, id] of Object.entries(ref.properties)) {
    const spec = propertySpec(id);
    assert.ok(spec, `id ${id}`);
    assert.equal(spec.name, name);
    assert.equal(propertySpecByName(name), spec);
  }
  assert.deepEqual(new Set(PROPERTIES.map((p) => p.id)), new Set(Object.values(Property)));
  assert.equal(propertySpec(0x04), undefined);
  assert.equal(propertySpec(0), undefined);
  assert.equal(propertySpec(0x7f), undefined);
});

test('property wire types agree with mqtt-packet', () => {
  const map: Record<string, string> = {
    byte: PropertyWireType.BYTE, int8: PropertyWireType.BYTE, int16: PropertyWireType.TWO_BYTE_INT,
    int32: PropertyWireType.FOUR_BYTE_INT, var: PropertyWireType.VARINT, string: PropertyWireType.UTF8_STRING,
    binary: PropertyWireType.BINARY, pair: PropertyWireType.STRING_PAIR,
  };
  for (const [name, t] of Object.entries(ref.propertiesTypes)) {
    assert.equal(propertySpecByName(name)?.type, map[t], name);
  }
});

test('property placement follows spec table 2-4', () => {
  const P = PacketType;
  assert.ok(isPropertyAllowed(Property.SESSION_EXPIRY_INTERVAL, P.CONNECT));
  assert.ok(isPropertyAllowed(Property.SESSION_EXPIRY_INTERVAL, P.DISCONNECT));
  assert.ok(!isPropertyAllowed(Property.SESSION_EXPIRY_INTERVAL, P.PUBLISH));
  assert.ok(isPropertyAllowed(Property.TOPIC_ALIAS, P.PUBLISH));
  assert.ok(!isPropertyAllowed(Property.TOPIC_ALIAS, P.CONNECT));
  assert.ok(isPropertyAllowed(Property.WILL_DELAY_INTERVAL, P.CONNECT, true));
  assert.ok(!isPropertyAllowed(Property.WILL_DELAY_INTERVAL, P.CONNECT), 'will-only');
  assert.ok(!isPropertyAllowed(Property.SESSION_EXPIRY_INTERVAL, P.CONNECT, true), 'not a will property');
  assert.ok(isPropertyAllowed(Property.REASON_STRING, P.PUBREL));
  assert.ok(!isPropertyAllowed(Property.REASON_STRING, P.PUBLISH));
  assert.ok(isPropertyAllowed(Property.USER_PROPERTY, P.AUTH));
  assert.ok(!isPropertyAllowed(Property.USER_PROPERTY, P.PINGREQ));
  assert.ok(isPropertyAllowed(Property.SUBSCRIPTION_IDENTIFIER, P.SUBSCRIBE));
  assert.ok(!isPropertyAllowed(0x04, P.CONNECT), 'unknown id');
  const willProps = PROPERTIES.filter((p) => p.will).map((p) => p.id).sort((a, b) => a - b);
  assert.deepEqual(willProps, [0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26]);
  const connackOnly = PROPERTIES.filter((p) => p.packets.length === 1 && p.packets[0] === P.CONNACK).length;
  assert.equal(connackOnly, 8);
});

test('only user properties repeat, and subscription identifiers in PUBLISH', () => {
  assert.ok(isPropertyRepeatable(Property.USER_PROPERTY, PacketType.CONNECT));
  assert.ok(isPropertyRepeatable(Property.SUBSCRIPTION_IDENTIFIER, PacketType.PUBLISH));
  assert.ok(!isPropertyRepeatable(Property.SUBSCRIPTION_IDENTIFIER, PacketType.SUBSCRIBE));
  assert.ok(!isPropertyRepeatable(Property.SESSION_EXPIRY_INTERVAL, PacketType.CONNECT));
  const repeatable = PROPERTIES.filter((p) => p.repeatableIn.length > 0).map((p) => p.name).sort();
  assert.deepEqual(repeatable, ['subscriptionIdentifier', 'userProperties']);
});

test('limits: remaining length maximum and sane broker defaults', () => {
  assert.equal(MAX_REMAINING_LENGTH, 268_435_455);
  assert.equal(MAX_WIRE_PACKET_SIZE, 268_435_460);
  assert.ok(DEFAULT_MAX_PACKET_SIZE >= 64 * 1024 && DEFAULT_MAX_PACKET_SIZE <= MAX_WIRE_PACKET_SIZE);
  assert.ok(DEFAULT_RECEIVE_MAXIMUM >= 1 && DEFAULT_RECEIVE_MAXIMUM <= 65_535);
  assert.ok(DEFAULT_TOPIC_ALIAS_MAXIMUM >= 0 && DEFAULT_TOPIC_ALIAS_MAXIMUM <= 65_535);
  assert.ok(MAX_CLIENT_ID_LENGTH >= SPEC_MIN_CLIENT_ID_LENGTH, '[MQTT-3.1.3-5] 23 bytes must be accepted');
});

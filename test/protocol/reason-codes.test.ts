import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  REASON_CODES, Reason, reasonName, reasonSpec, isReasonValidFor, isFailure, connackReturnCodeV3,
  closesWithoutConnackV3, ConnackReturnCodeV3,
} from '../../src/shared/protocol/reason-codes.ts';
import { PacketType } from '../../src/shared/protocol/constants.ts';

interface MqttPacketCodes {
  MQTT5_PUBACK_PUBREC_CODES: Record<number, string>;
  MQTT5_PUBREL_PUBCOMP_CODES: Record<number, string>;
  MQTT5_SUBACK_CODES: Record<number, string>;
  MQTT5_UNSUBACK_CODES: Record<number, string>;
  MQTT5_DISCONNECT_CODES: Record<number, string>;
  MQTT5_AUTH_CODES: Record<number, string>;
}
const ref = createRequire(import.meta.url)('mqtt-packet/constants.js') as MqttPacketCodes;

test('Reason has exactly the names and values of the table', () => {
  const fromTable = Object.fromEntries(REASON_CODES.map((r) => [r.name, r.value]));
  assert.deepEqual({ ...Reason }, fromTable);
  assert.equal(REASON_CODES.length, 45);
  assert.equal(new Set(REASON_CODES.map((r) => r.name)).size, REASON_CODES.length);
});

test('reason codes allowed per packet agree with mqtt-packet', () => {
  const cases: [number, Record<number, string>][] = [
    [PacketType.PUBACK, ref.MQTT5_PUBACK_PUBREC_CODES],
    [PacketType.PUBREC, ref.MQTT5_PUBACK_PUBREC_CODES],
    [PacketType.PUBREL, ref.MQTT5_PUBREL_PUBCOMP_CODES],
    [PacketType.PUBCOMP, ref.MQTT5_PUBREL_PUBCOMP_CODES],
    [PacketType.SUBACK, ref.MQTT5_SUBACK_CODES],
    [PacketType.UNSUBACK, ref.MQTT5_UNSUBACK_CODES],
    [PacketType.DISCONNECT, ref.MQTT5_DISCONNECT_CODES],
    [PacketType.AUTH, ref.MQTT5_AUTH_CODES],
  ];
  for (const [type, table] of cases) {
    for (let code = 0; code < 256; code++) {
      assert.equal(isReasonValidFor(code, type), table[code] !== undefined, `0x${code.toString(16)} in type ${type}`);
    }
  }
});

test('CONNACK reason codes: success and the refusals of spec table 3-1', () => {
  const connack = REASON_CODES.filter((r) => r.packets.includes(PacketType.CONNACK)).map((r) => r.value);
  assert.deepEqual(connack, [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c,
    0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f]);
});

test('reasonName picks the name for the packet and never throws', () => {
  assert.equal(reasonName(0x00), 'SUCCESS');
  assert.equal(reasonName(0x00, PacketType.DISCONNECT), 'NORMAL_DISCONNECTION');
  assert.equal(reasonName(0x00, PacketType.SUBACK), 'GRANTED_QOS_0');
  assert.equal(reasonName(0x8e), 'SESSION_TAKEN_OVER');
  assert.equal(reasonName(0x05), 'UNKNOWN_0x05');
  assert.equal(reasonName(-1), 'UNKNOWN_0xffffffff');
  assert.equal(reasonName(300), 'UNKNOWN_0x12c');
  assert.equal(reasonSpec(0x81)?.text, 'Malformed Packet');
  assert.equal(reasonSpec(1.5), undefined);
});

test('isFailure: codes from 0x80 up are failures', () => {
  assert.ok(!isFailure(Reason.GRANTED_QOS_2));
  assert.ok(!isFailure(Reason.NO_MATCHING_SUBSCRIBERS));
  assert.ok(isFailure(Reason.UNSPECIFIED_ERROR));
});

test('v5 CONNACK reasons fold onto the six 3.1.1 return codes (table 3.1)', () => {
  assert.equal(connackReturnCodeV3(Reason.SUCCESS), ConnackReturnCodeV3.ACCEPTED);
  assert.equal(connackReturnCodeV3(Reason.UNSUPPORTED_PROTOCOL_VERSION), 1);
  assert.equal(connackReturnCodeV3(Reason.CLIENT_IDENTIFIER_NOT_VALID), 2);
  assert.equal(connackReturnCodeV3(Reason.SERVER_UNAVAILABLE), 3);
  assert.equal(connackReturnCodeV3(Reason.SERVER_BUSY), 3);
  assert.equal(connackReturnCodeV3(Reason.USE_ANOTHER_SERVER), 3);
  assert.equal(connackReturnCodeV3(Reason.QUOTA_EXCEEDED), 3);
  assert.equal(connackReturnCodeV3(Reason.BAD_USER_NAME_OR_PASSWORD), 4);
  assert.equal(connackReturnCodeV3(Reason.NOT_AUTHORIZED), 5);
  assert.equal(connackReturnCodeV3(Reason.BANNED), 5);
  assert.equal(connackReturnCodeV3(Reason.BAD_AUTHENTICATION_METHOD), 5);
  for (const r of REASON_CODES) {
    if (!r.packets.includes(PacketType.CONNACK)) continue;
    const v3 = connackReturnCodeV3(r.value);
    assert.ok(v3 >= 0 && v3 <= 5);
    assert.equal(v3 === 0, r.value === 0, r.name);
  }
});

test('[MQTT-3.1.4-1] 3.1.1 closes without CONNACK on malformed / protocol errors', () => {
  assert.ok(closesWithoutConnackV3(Reason.MALFORMED_PACKET));
  assert.ok(closesWithoutConnackV3(Reason.PROTOCOL_ERROR));
  assert.ok(!closesWithoutConnackV3(Reason.NOT_AUTHORIZED));
});

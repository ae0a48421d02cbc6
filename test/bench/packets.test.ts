// The lean client's hand-laid packets, checked against mqtt-packet and through the
// project's framer (src/shared/protocol/framer.ts), which the client reads with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer } from '../../src/shared/protocol/framer.ts';
import { PublishTemplate, writeAck, PUBACK } from '../../bench/lib/packets.ts';
import { makePayload } from '../../bench/lib/payload.ts';
import * as mqttPacket from 'mqtt-packet';

function stream(): Buffer {
  const parts: Buffer[] = [];
  const small = new PublishTemplate('a/b', makePayload(16, 1, 'x'), 1, 4);
  const big = new PublishTemplate('big', makePayload(300, 2, 'y'), 0, 4); // 2-byte length field
  for (let i = 0; i < 5; i++) {
    const out = Buffer.alloc(small.bytes.length);
    small.writeInto(out, 0, i, i, i + 1);
    parts.push(out);
    const b = Buffer.alloc(big.bytes.length);
    big.writeInto(b, 0, i, i, 0);
    parts.push(b);
    const ack = Buffer.alloc(4);
    writeAck(ack, 0, PUBACK, i + 1);
    parts.push(ack);
  }
  return Buffer.concat(parts);
}

test('every split of the stream yields the same packets, decodable by mqtt-packet', () => {
  const whole = stream();
  const expected: string[] = [];
  new Framer(1 << 20, (b, o, l) => expected.push(b.toString('hex', o, o + l)), () => assert.fail('error')).push(whole);
  assert.equal(expected.length, 15);
  for (let cut = 1; cut < whole.length; cut += 7) {
    for (let size = 1; size <= 64; size *= 4) {
      const got: string[] = [];
      const f = new Framer(1 << 20, (b, o, l) => got.push(b.toString('hex', o, o + l)), () => assert.fail('error'));
      f.push(whole.subarray(0, cut));
      for (let i = cut; i < whole.length; i += size) f.push(whole.subarray(i, Math.min(whole.length, i + size)));
      assert.deepEqual(got, expected, `cut ${cut} size ${size}`);
    }
  }
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const cmds: string[] = [];
  parser.on('packet', (p: mqttPacket.Packet) => cmds.push(p.cmd));
  for (const hex of expected) parser.parse(Buffer.from(hex, 'hex'));
  assert.deepEqual(cmds.slice(0, 3), ['publish', 'publish', 'puback']);
  assert.equal(cmds.length, 15);
});

test('oversized and malformed lengths are reported once', () => {
  const codes: string[] = [];
  new Framer(10, () => assert.fail('no packet'), (c) => codes.push(c)).push(Buffer.from([0x30, 20, ...Buffer.alloc(20)]));
  new Framer(1 << 28, () => assert.fail('no packet'), (c) => codes.push(c)).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.deepEqual(codes, ['PACKET_TOO_LARGE', 'MALFORMED_LENGTH']);
});

test('publish templates encode like mqtt-packet for v3.1, v3.1.1 and v5', () => {
  for (const level of [3, 4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      const tpl = new PublishTemplate('t/x', makePayload(20, 7, 'z'), qos, level);
      const out = Buffer.alloc(tpl.bytes.length);
      tpl.writeInto(out, 0, 42, 1.5, qos > 0 ? 9 : 0);
      const parser = mqttPacket.parser({ protocolVersion: level });
      let got: mqttPacket.Packet | null = null;
      parser.on('packet', (p: mqttPacket.Packet) => { got = p; });
      parser.parse(out);
      const p = got as mqttPacket.IPublishPacket | null;
      assert.ok(p !== null && p.cmd === 'publish', `level ${level} qos ${qos}`);
      assert.equal(p.topic, 't/x');
      assert.equal(p.qos, qos);
      if (qos > 0) assert.equal(p.messageId, 9);
      const payload = Buffer.from(p.payload);
      assert.equal(payload.length, 20);
      assert.equal(payload.readUInt32BE(0), 7);
      assert.equal(payload.readUInt32BE(4), 42);
      assert.equal(payload.readDoubleBE(8), 1.5);
    }
  }
});

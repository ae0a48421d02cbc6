// The ack/PINGREQ fast path against the reference codec: whatever the fast path accepts,
// mqtt-packet parses to the same packet id (and reason Success); random and malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { lcg, referenceParse } from '../helpers/reference-codec.ts';
import { ACK_FIRST_BYTE, isPingreq, shortAckId } from '../../src/shared/protocol/ack-fast.ts';

const CMD: Record<number, string> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' };



test('every packet the short-ack path accepts parses the same in mqtt-packet (3.1.1 and 5)', () => {
  const rnd = lcg(42);
  let accepted = 0;
  for (let i = 0; i < 50_000; i++) {
    const type = 4 + (rnd() % 4);
    const len = 2 + (rnd() % 5);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = rnd() & 0xff;
    // Bias towards well-formed headers so the accepted branch is exercised often.
    if (rnd() % 2 === 0) b[0] = (type << 4) | (type === 6 ? 2 : 0);
    if (rnd() % 2 === 0) b[1] = len - 2;
    const first = [ACK_FIRST_BYTE.PUBACK, ACK_FIRST_BYTE.PUBREC, ACK_FIRST_BYTE.PUBREL, ACK_FIRST_BYTE.PUBCOMP][type - 4]!;
    const id = shortAckId(b, 0, len, first);
    if (id < 0) continue;
    accepted++;
    for (const v of [4, 5] as const) {
      const ref = referenceParse(b, v);
      assert.ok(!(ref instanceof Error), `${b.toString('hex')} v${v}: fast path accepted, mqtt-packet: ${String(ref)}`);
      const r = ref as mqttPacket.IPubackPacket;
      assert.equal(r.cmd, CMD[type]);
      assert.equal(r.messageId, id);
      assert.equal(r.reasonCode ?? 0, 0);
    }
  }
  assert.ok(accepted > 1000, `only ${accepted} accepted`);
});

test('short-ack path declines other forms (they go through mqtt-packet)', () => {
  assert.equal(shortAckId(Buffer.from([0x40, 2, 0, 7]), 0, 4, 0x40), 7);
  assert.equal(shortAckId(Buffer.from([0x41, 2, 0, 7]), 0, 4, 0x40), -1); // reserved flags set
  assert.equal(shortAckId(Buffer.from([0x60, 2, 0, 7]), 0, 4, 0x62), -1); // PUBREL without its flags
  assert.equal(shortAckId(Buffer.from([0x40, 3, 0, 7, 0x10]), 0, 5, 0x40), -1); // with a reason code
  assert.equal(shortAckId(Buffer.from([0x40, 2, 0, 0]), 0, 4, 0x40), -1); // id 0
  assert.equal(shortAckId(Buffer.from([9, 0x40, 2, 1, 2]), 1, 4, 0x40), 0x102); // at an offset
});

test('PINGREQ fast path accepts exactly what mqtt-packet parses as a PINGREQ', () => {
  for (let a = 0xc0; a <= 0xcf; a++) {
    for (let b = 0; b < 4; b++) {
      const buf = Buffer.from([a, b, 0, 0, 0].slice(0, 2 + b));
      if (!isPingreq(buf, 0, buf.length)) continue;
      const ref = referenceParse(buf, 4);
      assert.equal((ref as mqttPacket.Packet).cmd, 'pingreq');
    }
  }
  assert.ok(isPingreq(Buffer.from([0xc0, 0]), 0, 2));
  assert.ok(!isPingreq(Buffer.from([0xc1, 0]), 0, 2));
});

// The CONNECT fast path against the reference codec: whatever the fast path accepts,
// mqtt-packet parses to the same fields; the forms it leaves to mqtt-packet (will, v5
// properties) return null; random mutations of valid packets never make them disagree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { lcg, referenceParse } from '../helpers/reference-codec.ts';
import { decodeConnectFast } from '../../src/shared/protocol/connect-fast.ts';



const FIELDS = ['cmd', 'protocolId', 'protocolVersion', 'clean', 'keepalive', 'clientId', 'username'] as const;

function assertSame(fast: NonNullable<ReturnType<typeof decodeConnectFast>>, ref: mqttPacket.IConnectPacket, what: string): void {
  for (const f of FIELDS) assert.deepEqual(fast[f], ref[f], `${what}: ${f}`);
  assert.equal(fast.password === undefined ? undefined : fast.password.toString('hex'), ref.password === undefined ? undefined : Buffer.from(ref.password).toString('hex'), `${what}: password`);
  assert.equal(ref.will, undefined, `${what}: the fast path accepted a will`);
  assert.equal(ref.properties, undefined, `${what}: the fast path accepted properties`);
}

function connect(v: 3 | 4 | 5, o: Partial<mqttPacket.IConnectPacket>): Buffer {
  return mqttPacket.generate({
    cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clean: true, keepalive: 60, clientId: 'c', ...o,
  } as mqttPacket.IConnectPacket);
}

const IDS = ['', 'a', 'many12345', 'ç-ü-€-😀', 'x'.repeat(300)];

test('CONNECT fast path decodes the plain forms exactly as mqtt-packet (3.1, 3.1.1, 5)', () => {
  let n = 0;
  for (const v of [3, 4, 5] as const) {
    for (const clientId of IDS) {
      if (clientId === '' && v === 3) continue; // mqtt-packet will not generate it; decoded below
      for (const clean of [true, false]) {
        if (clientId === '' && !clean) continue; // mqtt-packet will not generate it (the broker refuses it)
        for (const keepalive of [0, 1, 60, 65535]) {
          for (const auth of [{}, { username: 'u' }, { username: 'üser', password: Buffer.from([0, 1, 255]) }, { username: '', password: Buffer.alloc(0) }]) {
            const b = connect(v, { clientId, clean, keepalive, ...auth });
            const fast = decodeConnectFast(b, 0, b.length);
            assert.ok(fast !== null, `v${v} ${JSON.stringify({ clientId, clean, keepalive, auth })} declined`);
            const ref = (referenceParse(b, 4) as mqttPacket.IConnectPacket | Error);
            assert.ok(!(ref instanceof Error), String(ref));
            assertSame(fast, ref, `v${v}`);
            n++;
          }
        }
      }
    }
  }
  assert.ok(n > 400);
  // An empty client id in 3.1 (the broker refuses it later, with CONNACK 2): both decode it.
  const v3 = connect(3, { clientId: 'a' });
  const empty = Buffer.concat([v3.subarray(0, 14), Buffer.from([0, 0])]);
  empty[1] = empty.length - 2;
  const fast = decodeConnectFast(empty, 0, empty.length);
  assert.ok(fast !== null);
  assertSame(fast, referenceParse(empty, 4) as mqttPacket.IConnectPacket, 'v3 empty id');
});

test('CONNECT fast path works at an offset inside a larger read chunk', () => {
  const b = connect(4, { clientId: 'off', username: 'u', password: Buffer.from('p') });
  const chunk = Buffer.concat([Buffer.from([1, 2, 3]), b, Buffer.from([0xc0, 0])]);
  const fast = decodeConnectFast(chunk, 3, b.length);
  assert.ok(fast !== null);
  assert.equal(fast.clientId, 'off');
  assert.equal(fast.password!.toString(), 'p');
  // The password is a copy: the read chunk may be reused once the packet is handled.
  chunk.fill(0);
  assert.equal(fast.password!.toString(), 'p');
});

test('CONNECT fast path leaves wills, v5 properties and bridge mode to mqtt-packet', () => {
  const will = { topic: 'w', payload: Buffer.from('x'), qos: 0 as const, retain: false };
  assert.equal(decodeConnectFast(...whole(connect(4, { will }))), null);
  assert.equal(decodeConnectFast(...whole(connect(5, { will }))), null);
  assert.equal(decodeConnectFast(...whole(connect(5, { properties: { sessionExpiryInterval: 10 } }))), null);
  assert.equal(decodeConnectFast(...whole(connect(5, { properties: { receiveMaximum: 5 } }))), null);
  const bridge = connect(4, {});
  bridge[8] = 0x84; // protocol level 4 with the bridge bit
  assert.equal(decodeConnectFast(...whole(bridge)), null);
  const reserved = connect(4, {});
  reserved[9] |= 1;
  assert.equal(decodeConnectFast(...whole(reserved)), null);
  const level = connect(4, {});
  level[8] = 6;
  assert.equal(decodeConnectFast(...whole(level)), null);
  const trailing = Buffer.concat([connect(4, { clientId: 'abc' }), Buffer.from([0])]);
  trailing[1]! += 1;
  assert.equal(decodeConnectFast(...whole(trailing)), null);
});

function whole(b: Buffer): [Buffer, number, number] { return [b, 0, b.length]; }

test('CONNECT fast path and mqtt-packet never disagree on mutated packets (random bytes, lengths, flags)', () => {
  const rnd = lcg(7);
  const seeds = [
    connect(3, { clientId: 'abc' }), connect(4, { clientId: 'abcdef', username: 'u', password: Buffer.from('pw') }),
    connect(5, { clientId: 'c5', username: 'u' }), connect(4, { clientId: '' }),
    connect(4, { clientId: 'w', will: { topic: 't', payload: Buffer.from('p'), qos: 1, retain: true } }),
  ];
  let accepted = 0;
  let mutatedAccepted = 0;
  for (let i = 0; i < 60_000; i++) {
    const seed = seeds[rnd() % seeds.length]!;
    let b = Buffer.from(seed);
    const mutations = 1 + (rnd() % 3);
    for (let m = 0; m < mutations; m++) {
      switch (rnd() % 5) {
        case 0: { const at = 2 + (rnd() % (b.length - 2)); b[at] = rnd() & 0xff; break; }           // any body byte
        case 1: { const at = 9 + (rnd() % 2); b[at] = b[at]! ^ (1 << (rnd() % 8)); break; }        // flags / keepalive bits
        case 2: b = b.subarray(0, Math.max(2, b.length - 1 - (rnd() % 4))); b[1] = b.length - 2; break; // truncated
        case 3: b = Buffer.concat([b, Buffer.from([rnd() & 0xff, rnd() & 0xff])]); b[1] = b.length - 2; break; // extended
        case 4: { const at = 12 + (rnd() % Math.max(1, b.length - 13)); if (at + 1 < b.length) b[at] = rnd() % 4; break; } // a string length
      }
    }
    if (b.length < 2 || b[1]! !== b.length - 2 || b.length > 129) continue; // keep the one-byte remaining length valid
    const fast = decodeConnectFast(b, 0, b.length);
    if (fast === null) continue;
    accepted++;
    if (!b.equals(seed)) mutatedAccepted++;
    const ref = (referenceParse(b, 4) as mqttPacket.IConnectPacket | Error);
    assert.ok(!(ref instanceof Error), `${b.toString('hex')}: fast path accepted, mqtt-packet: ${String(ref)}`);
    assertSame(fast, ref, b.toString('hex'));
  }
  assert.ok(accepted > 1000 && mutatedAccepted > 500, `accepted ${accepted}, of them mutated ${mutatedAccepted}`);
});

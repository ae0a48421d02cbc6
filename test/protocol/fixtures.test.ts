// Checks the raw-packet catalogue itself: every valid fixture decodes with mqtt-packet (the
// reference codec), every codecRejects note is true, and every fixture frames as expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parser, type Packet } from 'mqtt-packet';
import { FIXTURES, fixture } from '../fixtures/packets.ts';
import { Framer } from '../../src/shared/protocol/framer.ts';
import { PACKET_CMDS } from '../../src/shared/protocol/constants.ts';

interface Decoded {
  packets: Packet[];
  errors: string[];
  left: number;
}

function decode(bytes: Buffer, version: number): Decoded {
  const p = parser({ protocolVersion: version });
  const out: Decoded = { packets: [], errors: [], left: 0 };
  p.on('packet', (pk) => out.packets.push(pk));
  p.on('error', (e: Error) => out.errors.push(e.message));
  out.left = p.parse(bytes);
  return out;
}

const EXPECT = /^(none|close|pingresp|puback|pubrec|pubcomp|unsuback)$|^(connack|disconnect|puback|pubrec|pubcomp|unsuback):0x[0-9a-f]{2}$|^suback:0x[0-9a-f]{2}(,0x[0-9a-f]{2})*$/;

test('fixture catalogue: names unique and well formed, fields consistent', () => {
  const names = new Set<string>();
  for (const f of FIXTURES) {
    assert.ok(!names.has(f.name), `duplicate ${f.name}`);
    names.add(f.name);
    const m = /^([a-z]+)-v(31|311|5)-[a-z0-9-]+$/.exec(f.name);
    assert.ok(m, `name ${f.name}`);
    assert.equal({ 31: 3, 311: 4, 5: 5 }[m[2] as '31' | '311' | '5'], f.version, `${f.name}: version in name`);
    assert.ok(EXPECT.test(f.expect), `${f.name}: expect ${f.expect}`);
    for (const a of f.alsoAcceptable ?? []) assert.ok(EXPECT.test(a), `${f.name}: alsoAcceptable ${a}`);
    if (f.version !== 5) assert.ok(!f.expect.startsWith('disconnect'), `${f.name}: no DISCONNECT before v5`);
    if (f.valid) assert.equal(f.codecRejects, undefined, `${f.name}: codecRejects is for invalid fixtures`);
    else assert.equal(typeof f.codecRejects, 'boolean', `${f.name}: say whether mqtt-packet rejects it`);
  }
  assert.ok(FIXTURES.length >= 80, `catalogue size ${FIXTURES.length}`);
});

test('fixture catalogue covers every packet type a client sends, in every version', () => {
  const seen = new Set(FIXTURES.map((f) => `${f.name.split('-')[0]}/${f.version}`));
  for (const t of ['connect', 'publish', 'subscribe']) {
    for (const v of [3, 4, 5]) assert.ok(seen.has(`${t}/${v}`), `${t} v${v}`);
  }
  for (const t of ['unsubscribe', 'pingreq', 'disconnect', 'pubrel', 'puback']) assert.ok(seen.has(`${t}/4`), t);
  for (const t of ['unsubscribe', 'pingreq', 'disconnect', 'auth', 'pubrel']) assert.ok(seen.has(`${t}/5`), t);
  assert.ok(FIXTURES.some((f) => !f.valid && f.version === 4) && FIXTURES.some((f) => !f.valid && f.version === 5));
});

test('every valid fixture decodes with mqtt-packet to one packet of the named type', () => {
  for (const f of FIXTURES.filter((x) => x.valid)) {
    const d = decode(f.bytes, f.version);
    assert.deepEqual(d.errors, [], f.name);
    assert.equal(d.packets.length, 1, f.name);
    assert.equal(d.left, 0, `${f.name}: bytes left over`);
    assert.equal(d.packets[0].cmd, f.name.split('-')[0], f.name);
    assert.equal(PACKET_CMDS[f.bytes[0] >> 4], d.packets[0].cmd);
  }
});

test('codecRejects says truthfully whether mqtt-packet rejects each invalid fixture', () => {
  for (const f of FIXTURES.filter((x) => !x.valid)) {
    const d = decode(f.bytes, f.version);
    assert.equal(d.errors.length > 0, f.codecRejects, `${f.name}: ${d.errors.join('; ') || 'no error'}`);
  }
});

test('valid fixtures decode to what their names promise', () => {
  const c = decode(fixture('connect-v5-properties').bytes, 5).packets[0];
  assert.equal(c.cmd, 'connect');
  if (c.cmd !== 'connect') return;
  assert.equal(c.protocolVersion, 5);
  assert.equal(c.properties?.sessionExpiryInterval, 3600);
  assert.equal(c.properties?.receiveMaximum, 100);
  assert.deepEqual({ ...c.properties?.userProperties }, { region: ['eu', 'us'] });

  const w = decode(fixture('connect-v5-will-properties').bytes, 5).packets[0];
  assert.ok(w.cmd === 'connect' && w.will);
  assert.equal(w.will.qos, 2);
  assert.equal(w.will.properties?.willDelayInterval, 5);
  assert.equal(w.will.properties?.contentType, 'application/json');

  const v31 = decode(fixture('connect-v31-will-user-pass').bytes, 3).packets[0];
  assert.ok(v31.cmd === 'connect');
  assert.equal(v31.protocolId, 'MQIsdp');
  assert.equal(v31.protocolVersion, 3);
  assert.equal(v31.username, 'u');

  const pub = decode(fixture('publish-v311-qos0').bytes, 4).packets[0];
  assert.ok(pub.cmd === 'publish');
  assert.equal(pub.topic, 'a/b');
  assert.equal(pub.payload.toString(), 'hello!');

  const sub = decode(fixture('subscribe-v5-options-and-identifier').bytes, 5).packets[0];
  assert.ok(sub.cmd === 'subscribe');
  assert.deepEqual(sub.subscriptions, [{ topic: 'opt/#', qos: 1, nl: true, rap: true, rh: 1 }]);
  assert.equal(sub.properties?.subscriptionIdentifier, 300);
});

test('every fixture frames as one packet of its own length, except malformed lengths', () => {
  for (const f of FIXTURES) {
    const got: number[] = [];
    const errors: string[] = [];
    const framer = new Framer(1 << 20, (_b, _o, len) => got.push(len), (code) => errors.push(code));
    framer.push(f.bytes);
    if (f.name.includes('remaining-length-5-bytes')) {
      assert.deepEqual(errors, ['MALFORMED_LENGTH'], f.name);
    } else {
      assert.deepEqual(errors, [], f.name);
      assert.deepEqual(got, [f.bytes.length], f.name);
    }
  }
});

test('fixture() throws on an unknown name', () => {
  assert.throws(() => fixture('no-such-fixture'), /no packet fixture/);
});

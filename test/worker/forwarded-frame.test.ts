// The PUBLISH frame between shards carries topic and payload as a v3.1.1 QoS 0 PUBLISH
// (ByteWriter.mqttPublish), read in place by PublishView. Differential: the bytes must equal
// encodePublish's (and mqtt-packet's) for every topic and payload size, including non-ASCII
// topics and Remaining Length boundaries; the frame must round-trip every field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { ByteReader, ByteWriter } from '../../src/shared/bytes.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { PubFlag, writePublish, writePublishWire } from '../../src/worker/protocol/publish-view.ts';
import { encodePublish } from '../../src/worker/protocol/publish-codec.ts';
import { PublishView } from '../../src/worker/protocol/publish-view.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

const TOPIC_CHARS = ['a', 'b', '/', 'x', '0', 'é', 'ü', '€', '𝄞', '中'];
function randomTopic(r: () => number, maxLen: number): string {
  const n = 1 + Math.floor(r() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) s += TOPIC_CHARS[Math.floor(r() * (r() < 0.8 ? 5 : TOPIC_CHARS.length))]!;
  return s;
}

// Payload sizes around the 1/2/3-byte Remaining Length boundaries (127, 16383, 2097151).
const SIZES = [0, 1, 16, 100, 106, 110, 115, 120, 124, 125, 126, 127, 128, 1000, 16370, 16377, 16378, 16379, 16380, 16384, 70000, 2097140, 2097150];

test('ByteWriter.mqttPublish writes exactly what encodePublish and mqtt-packet write (v3.1.1 QoS 0), topics ASCII and not, every Remaining Length size', () => {
  const r = rng(7);
  const w = new ByteWriter(16);
  for (const size of SIZES) {
    for (let k = 0; k < 4; k++) {
      // k = 1: 20 UTF-8 bytes in 10 UTF-16 units, so the header-size guess is wrong near a boundary.
      const topic = k === 0 ? 'a' : k === 1 ? 'é'.repeat(10) : randomTopic(r, k === 3 ? 40 : 8);
      const payload = Buffer.alloc(size, 0x30 + k);
      for (const retain of [false, true]) {
        w.reset().u8(0xee);
        w.mqttPublish(retain ? 0x31 : 0x30, topic, payload);
        const len = w.buf.readUInt32LE(1);
        assert.equal(w.pos, 5 + len, `${size}/${topic}: length prefix`);
        const got = Buffer.from(w.buf.subarray(5, 5 + len));
        const want = encodePublish(topic, payload, 0, retain, false, 0, 4, null, -1, null, 0, true);
        assert.ok(got.equals(want), `size ${size} topic ${JSON.stringify(topic)} retain ${retain}`);
        if (size <= 1000) {
          const ref = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain, dup: false }, { protocolVersion: 4 });
          assert.ok(got.equals(ref), `mqtt-packet: size ${size} topic ${JSON.stringify(topic)}`);
        }
      }
    }
  }
});

test('writePublish → PublishView.read: every field, the wire bytes in place, toMessage copies out of the frame', () => {
  const r = rng(11);
  const w = new ByteWriter(64);
  const f = new PublishView();
  for (let i = 0; i < 300; i++) {
    const topic = randomTopic(r, 30);
    const origin = i % 3 === 0 ? '' : `client-${i}-ü`;
    const payload = Buffer.alloc(Math.floor(r() * 300), i & 0xff);
    const props = i % 4 === 0 ? Buffer.from([0x26, 0, 1, 0x6b, 0, 1, 0x76]) : null;
    const groups = i % 5 === 0 ? [`g${i}\u0000${topic}`, 'other\u0000#'] : null;
    const flags = (i % 3) | (i % 2 ? PubFlag.RETAIN : 0) | (i % 7 ? PubFlag.DELIVER : 0) | (i % 11 === 0 ? PubFlag.RETAIN_UPDATE : 0);
    const expiresAt = i % 2 ? 0 : 1_800_000_000_000 + i;
    writePublish(w.reset(), flags, i * 1000, expiresAt, topic, origin, props, payload, groups);
    // Surround the frame with junk, as a ring would.
    const ring = Buffer.alloc(w.pos + 20, 0xaa);
    w.buf.copy(ring, 7, 0, w.pos);
    const rd = new ByteReader().at(ring, 7, w.pos);
    assert.equal(rd.u8(), FrameType.PUBLISH);
    f.read(rd, 3);
    assert.equal(rd.pos, 7 + w.pos, 'whole frame consumed');
    assert.equal(f.flags, flags);
    assert.equal(f.seq, i * 1000);
    assert.equal(f.expiresAt, expiresAt);
    assert.equal(f.origin, origin);
    assert.deepEqual(f.props, props);
    assert.deepEqual(f.groups, groups);
    assert.equal(f.topic, topic);
    const wire = ring.subarray(f.wireOff, f.wireOff + f.wireLen);
    assert.ok(wire.equals(encodePublish(topic, payload, 0, (flags & PubFlag.RETAIN) !== 0, false, 0, 4, null, -1, null, 0, true)));
    const m = f.toMessage();
    ring.fill(0x55); // the ring slot is reused: the message must not see it
    assert.equal(m.topic, topic);
    assert.ok(m.payload.equals(payload));
    assert.equal(m.qos, flags & 3);
    assert.equal(m.retain, (flags & PubFlag.RETAIN) !== 0);
    assert.equal(m.origin, origin);
    assert.equal(m.expiresAt, expiresAt);
    assert.equal(m.src, 3);
    assert.equal(m.seq, i * 1000);
    assert.deepEqual(m.props, props);
  }
});

test('PublishView.read refuses a frame whose PUBLISH runs past its end', () => {
  const w = new ByteWriter(64);
  writePublish(w, PubFlag.DELIVER, 1, 0, 't', 'o', null, Buffer.from('payload'), null);
  const rd = new ByteReader().at(w.buf, 0, w.pos - 3);
  rd.u8();
  assert.throws(() => new PublishView().read(rd, 0), RangeError);
});

test('writePublishWire of a PUBLISH as received writes the same frame as writePublish; PublishView.inbound reads it as a view', () => {
  const a = new ByteWriter(64);
  const b = new ByteWriter(64);
  for (const topic of ['t', 'a/b/c', 'é/x']) {
    for (const size of [0, 10, 200, 20000]) {
      const payload = Buffer.alloc(size, 0x41);
      const wire = encodePublish(topic, payload, 0, false, false, 0, 4, null, -1, null, 0, true);
      const chunk = Buffer.concat([Buffer.alloc(3), wire, Buffer.alloc(2)]);
      writePublish(a.reset(), PubFlag.DELIVER, 9, 0, topic, 'me', null, payload, null);
      writePublishWire(b.reset(), PubFlag.DELIVER, 9, 0, 'me', null, null, chunk, 3, wire.length);
      assert.ok(a.buf.subarray(0, a.pos).equals(b.buf.subarray(0, b.pos)), `${topic} ${size}`);
      const v = new PublishView().inbound(chunk, 3, wire.length, 3 + wire.length - size, topic, 'me', 1);
      const m = v.toMessage();
      assert.equal(m.payload.buffer, chunk.buffer, 'a view of the read chunk (detached by whoever keeps it)');
      assert.ok(m.payload.equals(payload));
      assert.equal(m.origin, 'me');
      assert.equal(m.src, 1);
    }
  }
});

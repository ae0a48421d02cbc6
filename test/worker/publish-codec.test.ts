// decodePublish remembers the last topic name it validated (a publisher repeats its topic):
// an invalid name must be refused every time, whatever was decoded before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePublish, encodePublish, InboundPublish } from '../../src/worker/protocol/publish-codec.ts';
import { ProtocolError } from '../../src/shared/errors.ts';

test('decodePublish: a valid topic repeated passes, an invalid one is refused every time in between', () => {
  const out = new InboundPublish();
  const pkt = (topic: string) => encodePublish(topic, Buffer.from('x'), 0, false, false, 0, 4, null, -1, null, 0, true);
  for (const topic of ['a/b', 'a/b', 'a/+', 'a/b', 'a/+', 'a/+', 'a/#', 'a/b', 'é/ü', 'é/+', 'é/ü']) {
    const b = pkt(topic);
    const bad = topic.includes('+') || topic.includes('#');
    if (bad) assert.throws(() => decodePublish(b, 0, b.length, 4, out), ProtocolError, topic);
    else {
      decodePublish(b, 0, b.length, 4, out);
      assert.equal(out.topic, topic);
      assert.equal(out.payload.toString(), 'x');
      assert.equal(out.canonical, true);
    }
  }
});

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

// The sender's last topic (Connection.lastTopic, decodePublish's `prev`): taken as is only when
// the bytes spell it again; a name of the same length that differs, is invalid, or is not ASCII
// is decoded and validated as usual.
test('decodePublish same topic as last time: prev is reused only for the same bytes', () => {
  const out = new InboundPublish();
  const pkt = (topic: string | Buffer) => encodePublish(topic as string, Buffer.from('x'), 0, false, false, 0, 4, null, -1, null, 0, true);
  let prev = '';
  const step = (topic: string, expect: string | null) => {
    const b = pkt(topic);
    if (expect === null) {
      assert.throws(() => decodePublish(b, 0, b.length, 4, out, prev), ProtocolError, topic);
      return;
    }
    decodePublish(b, 0, b.length, 4, out, prev);
    assert.equal(out.topic, expect);
    assert.equal(out.payload.toString(), 'x');
    if (out.asciiTopic) prev = out.topic;
  };
  step('s/aa', 's/aa');
  step('s/aa', 's/aa');
  assert.equal(prev, 's/aa');
  step('s/ab', 's/ab');         // same length, one byte differs
  step('s/a+', null);           // same length as prev, invalid: refused, prev kept
  assert.equal(prev, 's/ab');
  step('s/ab', 's/ab');
  step('s/é', 's/é');           // 4 bytes like prev, not ASCII: never becomes prev
  assert.equal(out.asciiTopic, false);
  assert.equal(prev, 's/ab');
  step('s/ab', 's/ab');
  step('s/abc', 's/abc');
});

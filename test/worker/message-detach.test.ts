// Message.detach (src/worker/session/message.ts): a message kept beyond its turn is copied out
// of the read chunk it was sliced from once, however many deliveries keep it. A small copy is
// itself a slice of Node's shared pool, so a check on the buffer alone copied it again for
// every queued or in-flight subscriber (issue #12: beside a stalled QoS 1 subscriber, one 1 KiB
// copy per message more).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Message } from '../../src/worker/session/message.ts';
import { ByteReader, ByteWriter } from '../../src/shared/bytes.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { PubFlag, PublishView, writePublish } from '../../src/worker/protocol/publish-view.ts';

test('message detach: a payload sliced from a read chunk is copied once, however many deliveries keep it', () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const m = new Message('t', chunk.subarray(100, 1124), 1, false, chunk.subarray(10, 20), 0, 'p');
  const payload = m.detach().payload;
  const props = m.props;
  assert.notEqual(payload.buffer, chunk.buffer, 'still pins the read chunk');
  assert.notEqual(props!.buffer, chunk.buffer, 'props still pin the read chunk');
  assert.deepEqual(payload, Buffer.alloc(1024, 7));
  m.detach();
  m.detach();
  assert.equal(m.payload, payload, 'copied again by a later delivery');
  assert.equal(m.props, props, 'props copied again by a later delivery');
});

test('message detach: a payload replaced after a detach (an onPublish hook) is detached in its turn', () => {
  const chunk = Buffer.alloc(8192, 1);
  const m = new Message('t', Buffer.from('own'), 0, false, null, 0, '');
  m.detach();
  m.payload = chunk.subarray(0, 10);
  m.detach();
  assert.notEqual(m.payload.buffer, chunk.buffer);
  assert.deepEqual(m.payload, Buffer.alloc(10, 1));
});

test('message detach: a message built out of a peer ring frame keeps the copy toMessage made (no second copy per queued delivery)', () => {
  // A frame as a peer shard writes it, inside a larger buffer as in a ring slot.
  const w = new ByteWriter(64);
  writePublish(w.reset(), 1 | PubFlag.DELIVER, 1, 0, 'far/d', 'pub', null, Buffer.alloc(1024, 9), null);
  const ring = Buffer.alloc(w.pos + 64, 0xaa);
  w.buf.copy(ring, 16, 0, w.pos);
  const rd = new ByteReader().at(ring, 16, w.pos);
  assert.equal(rd.u8(), FrameType.PUBLISH);
  const m = new PublishView().read(rd, 1).toMessage();
  const copied = m.payload;
  assert.notEqual(copied.buffer, ring.buffer, 'toMessage must copy out of the ring');
  assert.equal(m.detach().payload, copied, 'detach copied the ring copy again');
  ring.fill(0x55);
  assert.deepEqual(m.payload, Buffer.alloc(1024, 9));
});

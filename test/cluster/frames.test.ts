// The frames a session's move between nodes adds or extends (docs/cluster.md, "Messages on their
// way during a move"): a PUBLISH frame that names its sending shard of another node, a SESSION
// frame that names a ghost on another node, and a sending shard's NODE_MARK; each written by
// its encoder and read back by its decoder, so a format change on one side fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../src/shared/bytes.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { PubFlag, PublishView, writePublish } from '../../src/worker/protocol/publish-view.ts';
import { readSession, writeSession } from '../../src/worker/session/frames.ts';
import { MoveSide, readNodeMark, writeNodeMark } from '../../src/worker/cluster/frames.ts';

function frame(type: number, write: (w: ByteWriter) => void): ByteReader {
  const w = new ByteWriter(64);
  write(w);
  const r = new ByteReader().at(w.buf, 0, w.pos);
  assert.equal(r.u8(), type);
  return r;
}

test('PUBLISH frame with its sender: the sending shard of another node survives the ring, and a frame without one reads as none', () => {
  for (const sender of ['c.1', null]) {
    const r = frame(FrameType.PUBLISH, (w) => writePublish(w, 1 | PubFlag.DELIVER, 42, 0, 'a/b', 'pub', null, Buffer.from('x'), ['g\u0000a/#'], sender));
    const v = new PublishView().read(r, 3);
    assert.equal(r.pos, r.end);
    assert.equal(v.sender, sender);
    assert.equal(v.flags, 1 | PubFlag.DELIVER, 'the frame-only flag is not a message flag');
    assert.deepEqual(v.groups, ['g\u0000a/#']);
    const m = v.toMessage();
    assert.equal(m.sender, sender);
    assert.equal(m.topic, 'a/b');
    assert.equal(m.payload.toString(), 'x');
    assert.equal(m.seq, 42);
    assert.equal(m.src, 3);
  }
});

test('SESSION frame naming a ghost on another node: shard, token and node reach the claiming shard', () => {
  const calls: unknown[][] = [];
  const to = { handleSession: (...a: unknown[]) => calls.push(a) } as never;
  const r = frame(FrameType.SESSION, (w) => writeSession(w, 7, 'dev1', Buffer.from('state'), 1, 0xfffffffe, 'node-a'));
  readSession(r, to);
  assert.equal(r.pos, r.end);
  assert.deepEqual(calls, [[7, 'dev1', Buffer.from('state'), 1, 0xfffffffe, 'node-a']]);
});

test('NODE_MARK frame: the end (ghost or arrival), its shard and token, the client id and the sender', () => {
  for (const side of [MoveSide.GHOST, MoveSide.ARRIVAL]) {
    const got: unknown[][] = [];
    const r = frame(FrameType.NODE_MARK, (w) => writeNodeMark(w, side, 2, 99, 'dev1', 'b.0'));
    readNodeMark(r, { onMark: (...a) => { got.push(a); } });
    assert.equal(r.pos, r.end);
    assert.deepEqual(got, [[side, 2, 99, 'dev1', 'b.0']]);
  }
});

// Frames between shards: every frame type written by its encoder and read back by its decoder
// (each family's pair sits in one module: peers/frames.ts, routing/frames.ts, session/frames.ts,
// protocol/publish-view.ts, cluster/frames.ts), field by field, so a format change on one side fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../src/shared/bytes.ts';
import {
  FrameType, homeShard, readBarrier, readCommitBarrier, readSyncDone, writeBarrier, writeCommitBarrier, writeSyncDone,
} from '../../src/worker/peers/frames.ts';
import { PubFlag, PublishView, writePublish } from '../../src/worker/protocol/publish-view.ts';
import {
  readRetainDone, readRetainSet, readRoute, readShare, writeRetainDone, writeRetainSet, writeRoute, writeShare,
} from '../../src/worker/routing/frames.ts';
import {
  readClaim, readDirect, readMove, readOwned, readRelease, readSession, readTakeover,
  writeClaim, writeDirect, writeMove, writeOwned, writeRelease, writeSession, writeTakeover,
} from '../../src/worker/session/frames.ts';
import type { Message } from '../../src/worker/session/message.ts';
import { MoveSide, readNodeMark, writeNodeMark } from '../../src/worker/cluster/frames.ts';

/** Encodes with `write`, checks the type byte, and returns a reader at the first field. */
function frame(type: number, write: (w: ByteWriter) => void): ByteReader {
  const w = new ByteWriter(64);
  write(w);
  const r = new ByteReader().at(w.buf, 0, w.pos);
  assert.equal(r.u8(), type);
  return r;
}

/** A receiver that records every call as [method, ...args]. */
function recorder(): { calls: unknown[][]; to: any } {
  const calls: unknown[][] = [];
  const to = new Proxy({}, { get: (_t, name) => (...args: unknown[]) => { calls.push([name, ...args]); } });
  return { calls, to };
}

function ended(r: ByteReader): void { assert.equal(r.pos, r.end, 'the decoder read the whole frame'); }

const body = (m: Message): unknown[] => [m.topic, m.payload.toString(), m.qos, m.retain, m.props?.toString() ?? null, m.expiresAt, m.origin];

test('PUBLISH: flags, sequence number, expiry, origin, properties, groups and the wire PUBLISH', () => {
  const r = frame(FrameType.PUBLISH, (w) => writePublish(w, 1 | PubFlag.RETAIN | PubFlag.DELIVER, 77, 1234567, 'a/b', 'pub-1', Buffer.from('P'), Buffer.from('hello'), ['g\u0000a/#']));
  const v = new PublishView().read(r, 3);
  ended(r);
  assert.deepEqual([v.flags, v.seq, v.expiresAt, v.origin, v.props?.toString(), v.groups, v.topic, v.from], [1 | PubFlag.RETAIN | PubFlag.DELIVER, 77, 1234567, 'pub-1', 'P', ['g\u0000a/#'], 'a/b', 3]);
  const m = v.toMessage();
  assert.deepEqual(body(m), ['a/b', 'hello', 1, true, 'P', 1234567, 'pub-1']);
  assert.equal(v.buf[v.wireOff], 0x31, 'the carried PUBLISH has the retain flag as published');
  const r2 = frame(FrameType.PUBLISH, (w) => writePublish(w, 0, 1, 0, 't', '', null, Buffer.alloc(0), null));
  const v2 = new PublishView().read(r2, 0);
  ended(r2);
  assert.deepEqual([v2.expiresAt, v2.props, v2.groups, v2.topic, v2.toMessage().payload.length], [0, null, null, 't', 0]);
});

test('ROUTE and SHARE', () => {
  const a = recorder();
  let r = frame(FrameType.ROUTE, (w) => writeRoute(w, true, 2, 'x/+/y'));
  readRoute(r, a.to); ended(r);
  r = frame(FrameType.ROUTE, (w) => writeRoute(w, false, 1, '#'));
  readRoute(r, a.to); ended(r);
  r = frame(FrameType.SHARE, (w) => writeShare(w, 3, 'grp\u0000s/#', 70000));
  readShare(r, a.to); ended(r);
  assert.deepEqual(a.calls, [['applyRoute', true, 2, 'x/+/y'], ['applyRoute', false, 1, '#'], ['applyShare', 3, 'grp\u0000s/#', 70000]]);
});

test('RETAIN_SET and RETAIN_DONE', () => {
  const a = recorder();
  let r = frame(FrameType.RETAIN_SET, (w) => writeRetainSet(w, 1, 0xfffffffe, 2 | PubFlag.RETAIN, 99, 'r/t', 'o', null, Buffer.from('v')));
  readRetainSet(r, a.to); ended(r);
  r = frame(FrameType.RETAIN_DONE, (w) => writeRetainDone(w, 5));
  readRetainDone(r, a.to); ended(r);
  const [set, done] = a.calls;
  assert.deepEqual(set!.slice(0, 3), ['onSet', 1, 0xfffffffe]);
  assert.deepEqual(body(set![3] as Message), ['r/t', 'v', 2, true, null, 99, 'o']);
  assert.deepEqual(done, ['onDone', 5]);
});

test('CLAIM, TAKEOVER, SESSION, RELEASE and OWNED', () => {
  const a = recorder();
  const frames: [number, (w: ByteWriter) => void, (r: ByteReader) => void][] = [
    [FrameType.CLAIM, (w) => writeClaim(w, 1, 10, 'c-1', true), (r) => readClaim(r, a.to)],
    [FrameType.TAKEOVER, (w) => writeTakeover(w, 9, 2, 11, 'c-1', false, true), (r) => readTakeover(r, a.to)],
    [FrameType.SESSION, (w) => writeSession(w, 12, 'c-1', Buffer.from('state'), 3, 13), (r) => readSession(r, a.to)],
    [FrameType.SESSION, (w) => writeSession(w, 14, 'c-2', null, -1, 0), (r) => readSession(r, a.to)],
    [FrameType.RELEASE, (w) => writeRelease(w, 0, 15, 'c-3'), (r) => readRelease(r, a.to)],
    [FrameType.OWNED, (w) => writeOwned(w, 3, 16, 'c-4'), (r) => readOwned(r, a.to)],
  ];
  for (const [type, write, read] of frames) { const r = frame(type, write); read(r); ended(r); }
  assert.deepEqual(a.calls.map((c) => c.map((x) => Buffer.isBuffer(x) ? x.toString() : x)), [
    ['handleClaim', 'c-1', 1, 10, true],
    ['handleTakeover', 'c-1', 9, 2, 11, false, true],
    ['handleSession', 12, 'c-1', 'state', 3, 13],
    ['handleSession', 14, 'c-2', null, -1, 0],
    ['handleRelease', 'c-3', 0, 15],
    ['handleOwned', 'c-4', 3, 16],
  ]);
});

test('DIRECT, MOVE_READY and MOVE_DONE', () => {
  const a = recorder();
  let r = frame(FrameType.DIRECT, (w) => writeDirect(w, 21, 'mover', 2, true, [4, 70000], 3, 555, 1, 0, 'd/t', 'src-c', Buffer.from('pp'), Buffer.from('x')));
  readDirect(r, a.to); ended(r);
  r = frame(FrameType.DIRECT, (w) => writeDirect(w, 22, 'mover', 0, false, null, -1, 0, 0, 0, 't', '', null, Buffer.alloc(0)));
  readDirect(r, a.to); ended(r);
  r = frame(FrameType.MOVE_READY, (w) => writeMove(w, false, 23, 'mover'));
  readMove(r, false, a.to); ended(r);
  r = frame(FrameType.MOVE_DONE, (w) => writeMove(w, true, 24, 'mover'));
  readMove(r, true, a.to); ended(r);
  const [d1, d2, ready, done] = a.calls;
  assert.deepEqual(d1!.slice(0, 6), ['onDirect', 21, 'mover', 2, true, [4, 70000]]);
  const m1 = d1![6] as Message;
  assert.deepEqual([...body(m1), m1.src, m1.seq], ['d/t', 'x', 1, false, 'pp', 0, 'src-c', 3, 555]);
  assert.deepEqual(d2!.slice(0, 6), ['onDirect', 22, 'mover', 0, false, null]);
  assert.equal((d2![6] as Message).src, -1, 'no publishing shard');
  assert.deepEqual([ready, done], [['onReady', 23, 'mover'], ['onDone', 24, 'mover']]);
});

test('BARRIER, COMMIT_BARRIER (and their answers) and SYNC_DONE', () => {
  const a = recorder();
  let r = frame(FrameType.BARRIER, (w) => writeBarrier(w, false, 1, 31, true));
  readBarrier(r, false, true, a.to); ended(r);
  r = frame(FrameType.BARRIER_ACK, (w) => writeBarrier(w, true, 2, 32, true));
  readBarrier(r, true, true, a.to); ended(r);
  r = frame(FrameType.CONTROL_BARRIER_ACK, (w) => writeBarrier(w, true, 3, 35, false));
  readBarrier(r, true, false, a.to); ended(r);
  r = frame(FrameType.COMMIT_BARRIER, (w) => writeCommitBarrier(w, false, 3, 33, 1));
  readCommitBarrier(r, false, a.to); ended(r);
  r = frame(FrameType.COMMIT_BARRIER_ACK, (w) => writeCommitBarrier(w, true, 0, 34));
  readCommitBarrier(r, true, a.to); ended(r);
  r = frame(FrameType.SYNC_DONE, (w) => writeSyncDone(w, 2));
  assert.equal(readSyncDone(r), 2); ended(r);
  assert.deepEqual(a.calls, [
    ['onBarrier', false, 1, 31, true], ['onBarrier', true, 2, 32, true], ['onBarrier', true, 3, 35, false],
    ['onCommitBarrier', 3, 33, true], ['onCommitBarrierAck', 34, false],
  ]);
});

test('frame types are distinct and the home shard of an id is stable', () => {
  const values = Object.values(FrameType);
  assert.equal(new Set(values).size, values.length);
  assert.equal(homeShard('client-a', 4), homeShard('client-a', 4));
  assert.ok(homeShard('client-a', 4) < 4);
});

// A session's move between nodes (docs/cluster.md): the PUBLISH frame's sender, the SESSION frame's ghost on another node, NODE_MARK.
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

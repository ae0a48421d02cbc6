// A frame committed to a peer ring during a turn (a read callback, a doorbell wake) rings the
// peer's doorbell when the turn ends, in the same callback: no nextTick per cross-shard
// message. Outside a turn (a timer) the ring still goes out in one nextTick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doorbell, SpscRing } from '../../src/shared/ring/index.ts';
import { Peers } from '../../src/worker/peers/peers.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import { enterTurn, leaveTurn } from '../../src/worker/net/turn.ts';
import { context } from './parts/fakes.ts';

const CAP = 1 << 16;

function sender() {
  const bells = new SharedArrayBuffer(2 * Doorbell.byteLength);
  const a = new Peers(context(2, 0), { current: null }, bells, [null, { out: new SharedArrayBuffer(SpscRing.byteLength(CAP)), in: new SharedArrayBuffer(SpscRing.byteLength(CAP)) }], CAP, () => {});
  const peerBell = new Doorbell(bells, Doorbell.byteLength);
  const publish = (n: number): void => { a.writer().u8(FrameType.PUBLISH).u32(n); a.commit(1); };
  return { a, peerBell, publish };
}

test('frames committed in a turn ring the peer once, when the turn ends', () => {
  const { peerBell, publish } = sender();
  const before = peerBell.sequence();
  enterTurn();
  publish(1); publish(2);
  assert.equal(peerBell.sequence(), before, 'nothing rings while the turn runs');
  leaveTurn();
  assert.equal(peerBell.sequence(), before + 1, 'one ring for the turn, before it returns');
});

test('outside a turn the ring goes out in the next tick', async () => {
  const { peerBell, publish } = sender();
  const before = peerBell.sequence();
  publish(1);
  assert.equal(peerBell.sequence(), before);
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(peerBell.sequence(), before + 1);
});

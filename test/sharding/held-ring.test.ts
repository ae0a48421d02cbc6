// A ring held by flow control (a subscriber it feeds is behind: backpressure.ts) between two real
// Peers ends over real rings in one thread: control frames go through at once, data and the
// barriers that vouch for it wait in order, and the peer's publishers wait until it goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ByteReader } from '../../src/shared/bytes.ts';
import { Doorbell, SpscRing } from '../../src/shared/ring/index.ts';
import { Peers } from '../../src/worker/peers/peers.ts';
import { FrameType } from '../../src/worker/peers/frames.ts';
import type { Source } from '../../src/worker/net/backpressure.ts';
import { context } from '../worker/parts/fakes.ts';
import { eventually } from '../helpers/clients.ts';

const CAP = 1 << 16;

class Publisher implements Source {
  pausedBy = 0;
  spillWaiting = false;
  unpause(): void { this.pausedBy--; }
}

function pair(onB: (type: number, n: number, bp: { current: Source | null }) => void) {
  const bells = new SharedArrayBuffer(2 * Doorbell.byteLength);
  const ab = new SharedArrayBuffer(SpscRing.byteLength(CAP));
  const ba = new SharedArrayBuffer(SpscRing.byteLength(CAP));
  const bpA = { current: null as Source | null };
  const bpB = { current: null as Source | null };
  let a: Peers | null = null;
  const a0 = new Peers(context(2, 0), bpA, bells, [null, { out: ab, in: ba }], CAP, (r: ByteReader, from: number) => {
    const type = r.u8();
    if (type === FrameType.HOLD || type === FrameType.RESUME) a!.onHold(from, type === FrameType.HOLD);
  });
  a = a0;
  const b = new Peers(context(2, 1), bpB, bells, [{ out: ba, in: ab }, null], CAP, (r: ByteReader) => { const type = r.u8(); onB(type, r.u32(), bpB); });
  a.start(); b.start();
  const send = (type: number, n: number): void => { a0.writer().u8(type).u32(n); a0.commit(1); };
  return { a: a0, b, bpA, send, stop: () => { a0.stop(); b.stop(); } };
}

test('a held ring: control frames are handled at once, data and commit barriers wait in order, the peer\'s publisher waits until it goes on', async () => {
  const seen: string[] = [];
  let holder: Source | null = null;
  const { a, bpA, send, stop } = pair((type, n, bp) => {
    seen.push(`${type}:${n}`);
    // The first PUBLISH goes to a subscriber that is behind: it holds the ring.
    if (type === FrameType.PUBLISH && n === 0 && holder === null) { holder = bp.current; holder!.pausedBy++; }
  });
  try {
    // Past one drain step (64 frames), so that frames after the hold reach the held-ring path.
    for (let i = 0; i < 100; i++) send(FrameType.PUBLISH, i);
    send(FrameType.COMMIT_BARRIER, 1000);
    send(FrameType.CLAIM, 1001);
    send(FrameType.BARRIER_ACK, 1002);
    send(FrameType.ROUTE, 1003);
    await eventually(() => seen.includes(`${FrameType.ROUTE}:1003`), 2000, 'the control frames behind the held data');
    assert.ok(seen.includes(`${FrameType.CLAIM}:1001`));
    assert.ok(!seen.includes(`${FrameType.PUBLISH}:99`), 'data behind the hold waits');
    assert.ok(!seen.includes(`${FrameType.COMMIT_BARRIER}:1000`), 'a commit barrier does not overtake the data it vouches for');
    assert.ok(!seen.includes(`${FrameType.BARRIER_ACK}:1002`));
    // The peer was told: a publisher writing to it waits.
    const pub = new Publisher();
    bpA.current = pub;
    a.writer().u8(FrameType.PUBLISH).u32(100); a.commit(1);
    bpA.current = null;
    assert.equal(pub.pausedBy, 1, 'a publisher on the peer waits for the held ring');
    // The subscriber caught up: everything parked, in its order, then what came after.
    holder!.unpause();
    await eventually(() => seen.includes(`${FrameType.PUBLISH}:100`) && pub.pausedBy === 0, 2000, 'the ring goes on and the publisher with it');
    const order = seen.filter((s) => !s.startsWith(`${FrameType.CLAIM}:`) && !s.startsWith(`${FrameType.ROUTE}:`));
    const want = [...Array.from({ length: 100 }, (_, i) => `${FrameType.PUBLISH}:${i}`), `${FrameType.COMMIT_BARRIER}:1000`, `${FrameType.BARRIER_ACK}:1002`, `${FrameType.PUBLISH}:100`];
    assert.deepEqual(order, want);
  } finally {
    stop();
  }
});

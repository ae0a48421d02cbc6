import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqTracker, StreamSet, sumCounts } from '../../bench/lib/tracker.ts';
import { computeFigures } from '../../bench/lib/figures.ts';
import { summarize } from '../../bench/lib/histogram.ts';
import * as hdr from 'hdr-histogram-js';

function feed(seqs: number[]): SeqTracker {
  const t = new SeqTracker();
  for (const s of seqs) t.see(s);
  return t;
}

test('in-order stream: all unique, nothing else', () => {
  const t = feed([0, 1, 2, 3, 4]);
  assert.deepEqual([t.received, t.unique, t.duplicated, t.outOfOrder], [5, 5, 0, 0]);
});

test('a gap filled later is out of order, not lost', () => {
  const t = feed([0, 1, 3, 4, 2, 5]);
  assert.equal(t.unique, 6);
  assert.equal(t.outOfOrder, 1);
  assert.equal(t.duplicated, 0);
});

test('repeats are duplicates, whether recent or old', () => {
  const t = feed([0, 1, 1, 2, 0, 3]);
  assert.equal(t.unique, 4);
  assert.equal(t.duplicated, 2);
  assert.equal(t.outOfOrder, 0);
});

test('a late arrival counted once; its repeat is a duplicate', () => {
  const t = feed([0, 2, 1, 1]);
  assert.deepEqual([t.unique, t.outOfOrder, t.duplicated], [3, 1, 1]);
});

test('loss is expected minus unique, including a lost tail', () => {
  const t = feed([0, 1, 3, 4, 6]); // 2 and 5 never came, 7..9 neither
  const f = computeFigures({
    connectMs: 10, connections: 2, elapsedMs: 500, sent: 10, received: t.received, unique: t.unique, expected: 10,
    duplicated: t.duplicated, outOfOrder: t.outOfOrder, latency: summarize(hdr.build()), connectFailures: {},
  });
  assert.equal(f.lost, 5);
  assert.equal(f.received, 5);
  assert.equal(f.rate, 10); // 5 delivered in 0.5 s
  assert.equal(f.publishRate, 20);
  assert.equal(f.connectRate, 200);
});

test('StreamSet keeps one tracker per publisher', () => {
  const s = new StreamSet();
  for (const [p, q] of [[1, 0], [2, 0], [1, 1], [2, 2], [2, 1], [1, 1]]) s.see(p, q);
  assert.deepEqual({ received: s.received, unique: s.unique, duplicated: s.duplicated, outOfOrder: s.outOfOrder },
    { received: 6, unique: 5, duplicated: 1, outOfOrder: 1 });
  assert.deepEqual(sumCounts([s, feed([0, 0])]), { received: 8, unique: 6, duplicated: 2, outOfOrder: 1 });
});

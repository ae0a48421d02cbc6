import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyRecorder } from '../../bench/lib/histogram.ts';

test('percentiles of 1..1000 ms come out within HDR precision (3 digits)', () => {
  const r = new LatencyRecorder();
  for (let i = 1; i <= 1000; i++) r.recordMs(i);
  const s = r.summary();
  const near = (actual: number, want: number): void => assert.ok(Math.abs(actual - want) <= want * 0.001 + 0.001, `${actual} ≉ ${want}`);
  assert.equal(s.count, 1000);
  assert.equal(s.unit, 'ms');
  near(s.min, 1);
  near(s.p50, 500);
  near(s.p90, 900);
  near(s.p99, 990);
  near(s.p999, 999);
  near(s.max, 1000);
  near(s.mean, 500.5);
});

test('microsecond precision below a millisecond', () => {
  const r = new LatencyRecorder();
  r.recordMs(0.123);
  r.recordMs(0.0001); // below 1 µs: recorded as 1 µs
  assert.equal(r.summary().max, 0.123);
  assert.equal(r.summary().min, 0.001);
});

test('histograms from threads merge through their encoded form', () => {
  const a = new LatencyRecorder();
  const b = new LatencyRecorder();
  for (let i = 0; i < 900; i++) a.recordMs(1);
  for (let i = 0; i < 100; i++) b.recordMs(10);
  const merged = new LatencyRecorder();
  merged.addEncoded(a.encode());
  merged.addEncoded(b.encode());
  const s = merged.summary();
  // HDR reports the top of each value's bucket: 10 ms reads back as 10.007 at 3 digits.
  const near = (actual: number, want: number): void => assert.ok(Math.abs(actual - want) <= want * 0.001, `${actual} ≉ ${want}`);
  assert.equal(s.count, 1000);
  near(s.p50, 1);
  near(s.p90, 1);
  near(s.p99, 10);
  near(s.max, 10);
  near(s.mean, 1.9);
});

test('an empty recorder reports zeros', () => {
  assert.deepEqual(new LatencyRecorder().summary(), { unit: 'ms', count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, ratio, ratios } from '../../bench/compare/stats.ts';
import { ratioRows, summarize } from '../../bench/compare/summarize.ts';
import { figures, run } from './fixtures/comparison.ts';

test('median of odd and even counts, ignoring missing values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, null, undefined, Number.NaN, 1, 3]), 3);
  assert.equal(median([]), null);
  assert.equal(median([null]), null);
});

test('ratio is baseline/other for throughput and other/baseline for latency, CPU and RSS', () => {
  assert.equal(ratio('rate', 300, 100), 3);
  assert.equal(ratio('connectRate', 50, 100), 0.5);
  assert.equal(ratio('p99', 2, 8), 4);
  assert.equal(ratio('p50', 4, 2), 0.5);
  assert.equal(ratio('cpuSeconds', 1, 2), 2);
  assert.equal(ratio('peakRssBytes', 200, 100), 0.5);
});

test('ratio is null rather than 0 or Infinity when a figure is missing or zero', () => {
  assert.equal(ratio('rate', 300, null), null);
  assert.equal(ratio('rate', null, 1), null);
  assert.equal(ratio('rate', 300, 0), null);
  assert.equal(ratio('p99', 0, 5), null);
  const all = ratios({ rate: 2, connectRate: null, p50: 1, p99: 1, cpuSeconds: 1, cpuPerMessage: 4, peakRssBytes: 1, rssPerConnBytes: 1000 },
    { rate: 1, connectRate: 1, p50: 2, p99: 3, cpuSeconds: 1, cpuPerMessage: 6, peakRssBytes: 1, rssPerConnBytes: 3000 });
  assert.deepEqual(all, { rate: 2, connectRate: null, p50: 2, p99: 3, cpuSeconds: 1, cpuPerMessage: 1.5, peakRssBytes: 1, rssPerConnBytes: 3 });
});

test('summary takes medians over clean runs only and sums loss over all runs', () => {
  const runs = [
    run(1, 1, 'a', figures(100, 1, 10), null, 1, 1000),
    run(2, 1, 'a', figures(999, 9, 99, 5), 'lost 5', 9, 9000),
    run(3, 1, 'a', figures(300, 3, 30), null, 3, 3000),
    run(1, 2, 'b', figures(50, 2, 20), null, 2, 500),
  ];
  const [a, b] = summarize(['a', 'b'], runs);
  assert.deepEqual(
    { runs: a!.runs, ok: a!.okRuns, rate: a!.rate, p50: a!.p50, p99: a!.p99, cpu: a!.cpuSeconds, rss: a!.peakRssBytes, lost: a!.lost },
    { runs: 3, ok: 2, rate: 200, p50: 2, p99: 20, cpu: 2, rss: 2000, lost: 5 },
  );
  assert.deepEqual(a!.failures, ['lost 5 in round 2']);
  assert.equal(b!.rate, 50);
  const [row] = ratioRows('a', [a!, b!]);
  assert.equal(row!.other, 'b');
  assert.equal(row!.rate, 4);
  assert.equal(row!.p99, 1);
  assert.equal(row!.cpuSeconds, 1);
});

test('the same failure in several rounds is listed once with its rounds', () => {
  const runs = [run(1, 1, 'a', null, 'exit 1, no JSON'), run(2, 1, 'a', null, 'exit 1, no JSON'), run(3, 1, 'a', figures(1, 1, 1, 3), 'lost 3')];
  assert.deepEqual(summarize(['a'], runs)[0]!.failures, ['exit 1, no JSON in rounds 1, 2', 'lost 3 in round 3']);
  assert.equal(summarize(['a'], runs)[0]!.rate, null);
});

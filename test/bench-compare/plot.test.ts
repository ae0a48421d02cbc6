// bench:compare --plot and bench:many --plot draw hand-written SVG; the live progress line keeps
// a long run talking. Checked on known data: what is drawn is what was measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPlot } from '../../bench/compare/plot.ts';
import { liveLine } from '../../bench/compare/progress.ts';
import { parseCompareArgs } from '../../bench/compare/args.ts';
import { renderManyPlot } from '../../bench/many/plot.ts';
import { niceTicks } from '../../bench/lib/svg.ts';
import { knownComparison } from './fixtures/comparison.ts';

const count = (s: string, re: RegExp): number => s.match(re)?.length ?? 0;

test('compare plot: a dot per counted run and metric, a bar per broker and metric, the medians written out', () => {
  const c = knownComparison();
  const svg = renderPlot(c);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const okRuns = c.runs.filter((r) => r.ok).length; // mosquitto's lossy round is left out
  assert.equal(count(svg, /<circle /g), okRuns * 2);
  assert.equal(count(svg, /<rect x=/g), 3 * 2);
  assert.match(svg, />300,000</); // shoal's median rate
  assert.match(svg, />2 ok of 3</);
  assert.match(svg, /load 0.5 at start/);
  assert.doesNotMatch(svg, /NaN|undefined/);
});

test('many plot: connections and RSS lines over the samples; without RSS it says what it needs', () => {
  const samples = [0, 1, 2, 3].map((s) => ({ atS: s, held: s * 100, failed: 0, cpuS: null, rssBytes: (50 + s) * 1048576 }));
  const svg = renderManyPlot('t', samples);
  assert.equal(count(svg, /<polyline /g), 2);
  const noRss = renderManyPlot('t', samples.map((p) => ({ ...p, rssBytes: null })));
  assert.equal(count(noRss, /<polyline /g), 1);
  assert.match(noRss, /needs --broker-pid/);
  assert.doesNotMatch(svg + noRss, /NaN|undefined/);
});

test('axis ticks are 1-2-5 steps that reach the maximum', () => {
  assert.deepEqual(niceTicks(9), [0, 2, 4, 6, 8, 10]);
  assert.equal(niceTicks(1_300_000).at(-1), 1_500_000);
  assert.deepEqual(niceTicks(0), [0, 1]);
});

test('live line: redrawn in place on a terminal, one line every 10 s in a log', () => {
  const tty: string[] = [];
  const t = liveLine(true, (s) => tty.push(s));
  t.tick(3, 10, 2, 'shoal', 1500, 1.25, 200 * 1048576);
  t.tick(3, 10, 2, 'shoal', 2500, 2.5, 200 * 1048576);
  assert.equal(tty.length, 2);
  assert.match(tty[1]!, /^\r\x1b\[K\[3\/10\] round 2 shoal: running 3 s, broker CPU 2.5 s, RSS 200 MiB$/);
  t.clear();
  assert.equal(tty.at(-1), '\r\x1b[K');
  const log: string[] = [];
  const l = liveLine(false, (s) => log.push(s));
  for (let ms = 0; ms <= 25_000; ms += 250) l.tick(1, 2, 1, 'aedes', ms, null, null);
  assert.equal(log.length, 3); // at 0, 10 and 20 s
  assert.ok(log.every((s) => s.endsWith('\n') && s.includes('round 1 aedes: running')));
});

test('--plot is an option of bench:compare', () => {
  assert.equal(parseCompareArgs(['--workload', 'loadtest', '--plot', 'x.svg']).plot, 'x.svg');
  assert.equal(parseCompareArgs(['--workload', 'loadtest']).plot, null);
});

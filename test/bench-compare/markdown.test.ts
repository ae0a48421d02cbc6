import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown } from '../../bench/compare/markdown.ts';
import { knownComparison, run } from './fixtures/comparison.ts';
import { summarize } from '../../bench/compare/summarize.ts';

test('the medians table has one row per broker with medians, loss and failures', () => {
  const lines = renderMarkdown(knownComparison()).split('\n');
  assert.ok(lines.includes('| shoal | 3/3 | 300,000 | 1 | 2 | 30,000 | 0 | 1.00 | 64.0 |  |'));
  assert.ok(lines.includes('| mosquitto | 2/3 | 200,000 | 0.5 | 1 | 20,000 | 12 | 1.00 | 64.0 | lost 12 in round 2 |'));
  assert.ok(lines.includes('| aedes | 3/3 | 100,000 | 4 | 8 | 10,000 | 0 | 2.00 | 64.0 |  |'));
});

test('the ratios table reads above 1× as the baseline doing better', () => {
  const md = renderMarkdown(knownComparison());
  assert.match(md, /above 1× means shoal did better/);
  const lines = md.split('\n');
  assert.ok(lines.includes('| mosquitto | 1.50× | 1.50× | 0.50× | 0.50× | 1.00× | 1.00× |'));
  assert.ok(lines.includes('| aedes | 3.00× | 3.00× | 4.00× | 4.00× | 2.00× | 1.00× |'));
});

test('every run is listed in run order, a failed one with its reason', () => {
  const lines = renderMarkdown(knownComparison()).split('\n');
  const runRows = lines.filter((l) => /^\| \d \| \d \| /.test(l));
  assert.deepEqual(runRows.map((l) => l.split(' | ')[2]), ['shoal', 'mosquitto', 'aedes', 'mosquitto', 'aedes', 'shoal', 'aedes', 'shoal', 'mosquitto']);
  assert.ok(lines.includes('| 2 | 1 | mosquitto | 250,000 | 0.5 | 1 | 12 | 1.00 | 64.0 | lost 12 |'));
});

test('a run that produced no figures still shows, with dashes and its failure', () => {
  const c = knownComparison();
  c.runs.push(run(4, 1, 'shoal', null, 'broker did not start: shoal exited with code 1', null, null));
  c.summary = summarize(c.brokers, c.runs);
  const lines = renderMarkdown(c).split('\n');
  assert.ok(lines.includes('| 4 | 1 | shoal | — | — | — | — | — | — | broker did not start: shoal exited with code 1 |'));
  assert.ok(lines.some((l) => l.startsWith('| shoal | 3/4 |') && l.endsWith('broker did not start: shoal exited with code 1 in round 4 |')));
});

test('skipped brokers and the header context are printed; pipes in text are escaped', () => {
  const c = knownComparison();
  c.skipped.push({ broker: 'mosquitto', reason: 'not installed' });
  c.runs[0] = run(1, 1, 'shoal', null, 'no JSON (a|b)');
  const md = renderMarkdown(c);
  assert.match(md, /^## bench:compare — loadtest$/m);
  assert.match(md, /`loadtest --conns 20` · 3 round\(s\)/);
  assert.match(md, /Test CPU · 2 cores · load 0\.5 · node v26\.10\.0 · git abc1234/);
  assert.match(md, /^- mosquitto: skipped \(not installed\)$/m);
  assert.match(md, /no JSON \(a\\\|b\) \|$/m);
});

test('broker CPU per message: CPU µs over the messages the tool received, with its ratio, when the tool counts them', () => {
  const c = knownComparison();
  for (const r of c.runs) if (r.figures !== null) r.figures.messages = r.broker === 'shoal' ? 500_000 : 250_000;
  c.summary = summarize(c.brokers, c.runs);
  const shoal = c.summary.find((s) => s.broker === 'shoal')!;
  assert.equal(shoal.cpuPerMessage, (shoal.cpuSeconds! * 1e6) / 500_000);
  const md = renderMarkdown(c);
  assert.match(md, /\| CPU\/msg \(µs\) \|/);
  assert.match(md, /\| CPU\/msg \|/);
});

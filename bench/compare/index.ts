// bench:compare — the same workload against Shoal, Mosquitto and Aedes, in alternation.
import { existsSync, writeFileSync } from 'node:fs';
import { launcherByName } from '../brokers/index.ts';
import type { BrokerLauncher } from '../brokers/types.ts';
import { parseCompareArgs, USAGE, UsageError, type CompareCli } from './args.ts';
import { runComparison } from './compare.ts';
import { renderMarkdown } from './markdown.ts';
import { liveLine, progressLine } from './progress.ts';
import { renderPlot } from './plot.ts';

let cli: CompareCli;
try {
  cli = parseCompareArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench:compare: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (cli.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!existsSync(cli.toolPath)) {
  console.error(`bench:compare: ${cli.toolPath} not found (is the ${cli.workload} tool written yet? --tool runs another script)`);
  process.exit(2);
}

const launchers = cli.brokers.map((name) => launcherByName(name)).filter((l): l is BrokerLauncher => l !== undefined);
for (const l of launchers) {
  const reason = l.unavailable();
  if (reason) console.error(`bench:compare: skipping ${l.name}: ${reason}`);
}
const live = liveLine(process.stderr.isTTY === true, (s) => process.stderr.write(s));
const perRound = launchers.filter((l) => !l.unavailable()).length;
const comparison = await runComparison({
  workload: cli.workload,
  toolPath: cli.toolPath,
  toolArgs: cli.toolArgs,
  launchers,
  rounds: cli.rounds,
  shards: cli.shards,
  baseline: cli.baseline,
  warmup: cli.warmup,
  timeoutMs: cli.timeoutMs,
  onRun: (record, total) => { live.clear(); console.error(progressLine(record, total, perRound)); },
  onTick: (slot, total, r) => live.tick((slot.round - 1) * perRound + slot.position, total, slot.round, slot.broker, r.elapsedMs, r.cpuSeconds, r.rssBytes),
});

const markdown = renderMarkdown(comparison);
if (cli.out) writeFileSync(cli.out, markdown);
if (cli.plot) writeFileSync(cli.plot, renderPlot(comparison));
console.log(cli.json ? JSON.stringify(comparison, null, 2) : markdown);
process.exitCode = comparison.runs.every((r) => r.ok) && comparison.runs.length > 0 ? 0 : 1;

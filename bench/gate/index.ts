// bench:gate — a short fixed comparison of Shoal against Aedes and (where installed)
// Mosquitto, failing when Shoal falls below a required ratio. Ratios only: absolute
// figures depend on the machine, ratios between brokers on the same machine much less.
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { launchers } from '../brokers/index.ts';
import { fromRoot } from '../brokers/repo-root.ts';
import { runComparison } from '../compare/compare.ts';
import { renderMarkdown } from '../compare/markdown.ts';
import { progressLine } from '../compare/progress.ts';
import type { Comparison } from '../compare/types.ts';
import { ConfigError, loadGateConfig, toolPathFor, type GateConfig } from './config.ts';
import { evaluateGate, type GateCheck } from './evaluate.ts';

const USAGE = `usage: npm run bench:gate -- [--config FILE] [--shards N] [--json] [--out FILE]

  --config FILE   gate definitions (default bench/gates.json; see bench/gate/README.md)
  --shards N      shards for Shoal (default: the config's, else the number of cores)
  --json          print { pass, gates: [{ gate, comparison, checks }] } as JSON
  --out FILE      also write the Markdown report to FILE
Exit status: 0 all ratios met, 1 a ratio not met or a Shoal run failed, 2 bad config.`;

let values;
try {
  ({ values } = parseArgs({
    strict: true,
    options: {
      config: { type: 'string', default: fromRoot('bench', 'gates.json') },
      shards: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  console.error(`bench:gate: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

let config: GateConfig;
try {
  config = loadGateConfig(values.config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`bench:gate: ${err.message}`);
  process.exit(2);
}
const shards = values.shards ? Number(values.shards) : (config.shards ?? os.availableParallelism());
if (!Number.isInteger(shards) || shards < 1) {
  console.error(`bench:gate: --shards must be a positive integer`);
  process.exit(2);
}

const started = performance.now();
const results: { gate: string; comparison: Comparison; checks: GateCheck[] }[] = [];
for (const spec of config.gates) {
  const toolPath = toolPathFor(spec);
  if (!existsSync(toolPath)) {
    console.error(`bench:gate: ${toolPath} not found`);
    process.exit(2);
  }
  // Shoal plus every broker a requirement names, in the default order.
  const wanted = new Set(['shoal', ...Object.keys(spec.require)]);
  const chosen = launchers.filter((l) => wanted.has(l.name));
  const perRound = chosen.filter((l) => !l.unavailable()).length;
  console.error(`bench:gate: ${spec.name}`);
  const comparison = await runComparison({
    workload: spec.workload,
    toolPath,
    toolArgs: spec.args,
    launchers: chosen,
    rounds: spec.rounds,
    shards: spec.shards ?? shards,
    baseline: 'shoal',
    warmup: config.warmup,
    timeoutMs: config.timeoutSeconds * 1000,
    onRun: (record, total) => console.error(`  ${progressLine(record, total, perRound)}`),
  });
  results.push({ gate: spec.name, comparison, checks: evaluateGate(spec, comparison) });
}

const allChecks = results.flatMap((r) => r.checks);
const pass = allChecks.every((c) => c.pass);
const elapsed = ((performance.now() - started) / 1000).toFixed(0);
const markdown = [
  ...results.flatMap((r) => [renderMarkdown(r.comparison), `### gate: ${r.gate}`, '',
    ...r.checks.map((c) => `- ${c.pass ? 'PASS' : '**FAIL**'} ${c.detail}`), '']),
  `bench:gate ${pass ? 'PASSED' : 'FAILED'} in ${elapsed} s`, '',
].join('\n');
if (values.out) writeFileSync(values.out, markdown);
console.log(values.json ? JSON.stringify({ pass, elapsedSeconds: Number(elapsed), gates: results }, null, 2) : markdown);
if (!pass) {
  console.error('bench:gate: FAILED');
  for (const c of allChecks.filter((c) => !c.pass)) console.error(`  ${c.gate}: ${c.detail}`);
}
process.exitCode = pass ? 0 : 1;

// Runs one workload against each broker in alternation, a fresh broker per run, and
// gathers everything into a Comparison. Printing is someone else's job.
import type { BrokerHandle, BrokerLauncher } from '../brokers/types.ts';
import { compareEnv } from './env.ts';
import { extractFigures, judgeRun, parseToolReport } from './report.ts';
import { runTool, type ToolRun } from './run-tool.ts';
import { schedule, type Slot } from './schedule.ts';
import { ratioRows, summarize } from './summarize.ts';
import type { Comparison, RunRecord } from './types.ts';

export interface CompareOptions {
  workload: string;
  toolPath: string;
  toolArgs: string[];
  launchers: readonly BrokerLauncher[];
  rounds: number;
  shards: number;
  baseline: string;
  /** run the workload once, unmeasured, on each fresh broker first (JIT warm-up for Node brokers) */
  warmup: boolean;
  timeoutMs: number;
  onRun?: (record: RunRecord, total: number) => void;
  /** About every SAMPLE_MS while a run goes on: how far it is (the tool's own output comes only at its end). */
  onTick?: (slot: Slot, total: number, live: LiveRun) => void;
}

/** A run in progress, as the sampler sees the broker. */
export interface LiveRun { elapsedMs: number; cpuSeconds: number | null; rssBytes: number | null }

const SAMPLE_MS = 250;

/** `many` turns the broker's RSS growth into bytes per connection when it knows the pid;
 * `isolation` reads (and with --layout, chooses) each client's shard from the admin port */
function argsFor(o: CompareOptions, handle: BrokerHandle): string[] {
  const args = [...o.toolArgs];
  if (o.workload === 'isolation' && handle.admin !== undefined && !args.includes('--admin')) args.push('--admin', handle.admin);
  if ((o.workload === 'many' || o.workload === 'isolation') && !args.includes('--broker-pid')) args.push('--broker-pid', String(handle.pid));
  return args;
}

async function measure(slot: Slot, handle: BrokerHandle, o: CompareOptions, total: number): Promise<RunRecord> {
  const args = argsFor(o, handle);
  if (o.warmup) await runTool(o.toolPath, handle.port, args, o.timeoutMs);
  const cpuBefore = handle.cpuSeconds();
  // Sampled during the run too: a broker that dies takes its /proc entry with it, and how
  // much CPU and memory it had reached by then is part of the story.
  let cpuAfter = cpuBefore;
  let peakRss = handle.peakRssBytes();
  const t0 = performance.now();
  const sample = (): void => {
    cpuAfter = handle.cpuSeconds() ?? cpuAfter;
    peakRss = handle.peakRssBytes() ?? peakRss;
    o.onTick?.(slot, total, { elapsedMs: performance.now() - t0, cpuSeconds: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null, rssBytes: peakRss });
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  const run: ToolRun = await runTool(o.toolPath, handle.port, args, o.timeoutMs).finally(() => clearInterval(sampler));
  sample();
  const report = parseToolReport(run.stdout);
  const figures = report ? extractFigures(report) : null;
  let failure = judgeRun(run, report, figures);
  const died = handle.died();
  if (died !== null) failure = [failure, `${handle.name} ${died} during the run`].filter(Boolean).join(', ');
  return {
    ...slot,
    ok: failure === null,
    failure,
    exitCode: run.exitCode,
    figures,
    brokerCpuSeconds: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    brokerPeakRssBytes: peakRss,
    wallMs: run.wallMs,
    report,
  };
}

async function runSlot(slot: Slot, launcher: BrokerLauncher, o: CompareOptions, total: number): Promise<RunRecord> {
  const started = performance.now();
  let handle: BrokerHandle;
  try {
    handle = await launcher.start({ shards: o.shards, admin: o.workload === 'isolation' });
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
    return {
      ...slot, ok: false, failure: `broker did not start: ${message}`, exitCode: null, figures: null,
      brokerCpuSeconds: null, brokerPeakRssBytes: null, wallMs: performance.now() - started, report: null,
    };
  }
  try {
    return await measure(slot, handle, o, total);
  } finally {
    await handle.stop();
  }
}

export async function runComparison(o: CompareOptions): Promise<Comparison> {
  const skipped: Comparison['skipped'] = [];
  const usable: BrokerLauncher[] = [];
  for (const launcher of o.launchers) {
    const reason = launcher.unavailable();
    if (reason) skipped.push({ broker: launcher.name, reason });
    else usable.push(launcher);
  }
  const names = usable.map((l) => l.name);
  const slots = schedule(names, o.rounds);
  const runs: RunRecord[] = [];
  // Strictly one broker at a time: an idle broker next to the measured one would still
  // hold memory and wake up for timers.
  for (const slot of slots) {
    const record = await runSlot(slot, usable.find((l) => l.name === slot.broker)!, o, slots.length);
    runs.push(record);
    o.onRun?.(record, slots.length);
  }
  const summary = summarize(names, runs);
  return {
    tool: 'bench-compare',
    version: 1,
    workload: o.workload,
    toolArgs: o.toolArgs,
    rounds: o.rounds,
    shards: o.shards,
    warmup: o.warmup,
    baseline: o.baseline,
    brokers: names,
    skipped,
    env: compareEnv(),
    runs,
    summary,
    ratios: ratioRows(o.baseline, summary),
  };
}

// Command line of bench:compare. Everything after a bare `--` goes to the load tool as is.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchers } from '../brokers/index.ts';
import { fromRoot } from '../brokers/repo-root.ts';

export const WORKLOADS = ['loadtest', 'pingtest', 'many', 'isolation'] as const;

export interface CompareCli {
  workload: string;
  brokers: string[];
  rounds: number;
  shards: number;
  baseline: string;
  json: boolean;
  out: string | null;
  toolPath: string;
  toolArgs: string[];
  timeoutMs: number;
  warmup: boolean;
  help: boolean;
  /** --plot FILE.svg: rates and CPU per broker with the spread over rounds */
  plot: string | null;
}

export const USAGE = `usage: npm run bench:compare -- --workload loadtest|pingtest|many [options] [-- <tool flags>]

  --workload NAME     load tool to run: bench/NAME/index.ts (required)
  --brokers LIST      comma-separated, from ${launchers.map((l) => l.name).join(',')}
                      (default: ${launchers.filter((l) => !l.optIn).map((l) => l.name).join(',')}; absent ones are skipped;
                      shoal-fast / shoal-durable: Shoal's on-disk modes; shoal-main-accept: --accept main; shoal-scraped: admin port on, /metrics
                      scraped every second; mosquitto-persist: persistence on;
                      shoal-base: the checkout in SHOAL_BASE_DIR, for a before/after of a change;
                      shoal-acl: a 100-rule --acl-file granting the loadtest's topics)
  --rounds N          rounds; each runs every broker once, order rotated per round (default 3)
  --shards N          shards for Shoal (default: cores, ${os.availableParallelism()})
  --baseline NAME     broker the ratios are computed for (default: shoal, else the first)
  --warmup            one unmeasured run on each fresh broker before the measured one
  --timeout S         seconds before a tool run is killed and counted as failed (default 300)
  --tool PATH         run this script instead of bench/NAME/index.ts (stubs, experiments)
  --json              print the whole comparison as one JSON object instead of Markdown
  --out FILE          also write the Markdown table to FILE
  --plot FILE.svg     also draw rate and broker CPU per broker, every round and their spread
  -h, --help          this text

The tool is always given --host 127.0.0.1 --port <broker port> ... --json; many also gets
--broker-pid <pid> (for its RSS per connection) unless the tool flags name one.
Exit status: 0 when every run counted, 1 when any run failed (loss, exit code, no JSON), 2 on bad usage.`;

export class UsageError extends Error {}

function int(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

export function parseCompareArgs(argv: readonly string[]): CompareCli {
  const split = argv.indexOf('--');
  const own = split === -1 ? [...argv] : argv.slice(0, split);
  const toolArgs = split === -1 ? [] : argv.slice(split + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: own,
      strict: true,
      options: {
        workload: { type: 'string' },
        brokers: { type: 'string' },
        rounds: { type: 'string' },
        shards: { type: 'string' },
        baseline: { type: 'string' },
        warmup: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        tool: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        plot: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const base = {
    json: values.json, out: values.out ?? null, plot: values.plot ?? null, toolArgs, warmup: values.warmup, help: values.help,
  };
  if (values.help) {
    return { ...base, workload: '', brokers: [], rounds: 0, shards: 0, baseline: '', toolPath: '', timeoutMs: 0 };
  }
  const workload = values.workload;
  if (!workload) throw new UsageError('--workload is required');
  if (!values.tool && !(WORKLOADS as readonly string[]).includes(workload)) {
    throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')}, got "${workload}"`);
  }
  // `many` runs until stopped unless told otherwise; the comparison would only time out.
  if (workload === 'many' && !values.tool && !toolArgs.includes('--duration')) {
    throw new UsageError('the many workload needs a bound: pass e.g. -- --conns 1000 --duration 20');
  }
  const known = launchers.map((l) => l.name);
  const brokers = values.brokers ? values.brokers.split(',').map((b) => b.trim()).filter(Boolean) : launchers.filter((l) => !l.optIn).map((l) => l.name);
  for (const b of brokers) if (!known.includes(b)) throw new UsageError(`unknown broker "${b}" (known: ${known.join(', ')})`);
  if (new Set(brokers).size !== brokers.length || brokers.length === 0) throw new UsageError('--brokers must name each broker once');
  const baseline = values.baseline ?? (brokers.includes('shoal') ? 'shoal' : brokers[0]!);
  if (!brokers.includes(baseline)) throw new UsageError(`--baseline ${baseline} is not among --brokers`);
  return {
    ...base,
    workload,
    brokers,
    rounds: int('rounds', values.rounds, 3, 1, 100),
    shards: int('shards', values.shards, os.availableParallelism(), 1, 1024),
    baseline,
    toolPath: values.tool ? path.resolve(values.tool) : fromRoot('bench', workload, 'index.ts'),
    timeoutMs: int('timeout', values.timeout, 300, 1, 86_400) * 1000,
  };
}

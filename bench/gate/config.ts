// Reads and checks bench/gates.json. A typo in a broker or metric name must stop the gate
// with a message, not quietly drop a requirement.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { launchers } from '../brokers/index.ts';
import { fromRoot } from '../brokers/repo-root.ts';
import { METRICS, type Metric } from '../compare/types.ts';

export type Requirements = Record<string, Partial<Record<Metric, number>>>;

export interface GateSpec {
  name: string;
  workload: string;
  args: string[];
  rounds: number;
  /** broker → metric → least ratio of Shoal's median to that broker's (inverted for latency, CPU, RSS) */
  require: Requirements;
  /** a script to run instead of bench/<workload>/index.ts (tests use a stub); relative to the repo */
  tool: string | null;
  /** Shoal's shards for this gate (null: the config's or --shards); a gate on one shard measures the per-message path without hops */
  shards: number | null;
}

export interface GateConfig {
  shards: number | null;
  timeoutSeconds: number;
  warmup: boolean;
  gates: GateSpec[];
}

export class ConfigError extends Error {}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function positiveInt(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new ConfigError(`${where} must be a positive integer`);
  return x;
}

function parseRequire(x: unknown, where: string): Requirements {
  if (!isRecord(x)) throw new ConfigError(`${where} must be an object of broker → { metric: ratio }`);
  const brokers = launchers.map((l) => l.name).filter((n) => n !== 'shoal');
  const out: Requirements = {};
  for (const [broker, metrics] of Object.entries(x)) {
    if (!brokers.includes(broker)) throw new ConfigError(`${where}: unknown broker "${broker}" (one of ${brokers.join(', ')})`);
    if (!isRecord(metrics)) throw new ConfigError(`${where}.${broker} must be an object of metric → ratio`);
    const m: Partial<Record<Metric, number>> = {};
    for (const [metric, ratio] of Object.entries(metrics)) {
      if (!(METRICS as readonly string[]).includes(metric)) {
        throw new ConfigError(`${where}.${broker}: unknown metric "${metric}" (one of ${METRICS.join(', ')})`);
      }
      if (typeof ratio !== 'number' || !(ratio > 0)) throw new ConfigError(`${where}.${broker}.${metric} must be a ratio > 0`);
      m[metric as Metric] = ratio;
    }
    out[broker] = m;
  }
  return out;
}

function parseGate(x: unknown, i: number): GateSpec {
  const where = `gates[${i}]`;
  if (!isRecord(x)) throw new ConfigError(`${where} must be an object`);
  if (typeof x.workload !== 'string' || !x.workload) throw new ConfigError(`${where}.workload must be a tool name`);
  const args = x.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new ConfigError(`${where}.args must be an array of strings`);
  if (x.tool !== undefined && typeof x.tool !== 'string') throw new ConfigError(`${where}.tool must be a path`);
  return {
    name: typeof x.name === 'string' ? x.name : `${x.workload} ${args.join(' ')}`.trim(),
    workload: x.workload,
    args,
    rounds: positiveInt(x.rounds ?? 3, `${where}.rounds`),
    require: parseRequire(x.require, `${where}.require`),
    tool: typeof x.tool === 'string' ? x.tool : null,
    shards: x.shards === undefined || x.shards === null ? null : positiveInt(x.shards, `${where}.shards`),
  };
}

export function parseGateConfig(x: unknown): GateConfig {
  if (!isRecord(x) || !Array.isArray(x.gates) || x.gates.length === 0) throw new ConfigError('the config needs a non-empty "gates" array');
  return {
    shards: x.shards === undefined || x.shards === null ? null : positiveInt(x.shards, 'shards'),
    timeoutSeconds: positiveInt(x.timeoutSeconds ?? 120, 'timeoutSeconds'),
    warmup: x.warmup === true,
    gates: x.gates.map(parseGate),
  };
}

export function loadGateConfig(file: string): GateConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parseGateConfig(JSON.parse(text));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`);
    throw new ConfigError(`${file}: not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function toolPathFor(spec: GateSpec): string {
  return spec.tool ? path.resolve(fromRoot(), spec.tool) : fromRoot('bench', spec.workload, 'index.ts');
}

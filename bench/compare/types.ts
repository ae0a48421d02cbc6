// Shapes shared by the comparison, its renderers and the gate.

/** What the load tools print with --json (the fixed contract, version 1). */
export interface ToolReport {
  tool: string;
  version: number;
  params: Record<string, unknown>;
  env: Record<string, unknown>;
  figures: Record<string, unknown>;
  gate: unknown;
  pass: boolean;
  /** bench:many --sample's soak summary (samples, RSS trend, CPU %, connections held), kept as the tool wrote it. */
  soak?: unknown;
}

/** The figures a comparison looks at, read from a ToolReport; null where the tool had none. */
export interface RunFigures {
  rate: number | null;
  p50: number | null;
  p99: number | null;
  connectRate: number | null;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  elapsedMs: number | null;
  /** `many` only: broker RSS growth per held connection */
  rssPerConnBytes: number | null;
  /** loadtest at QoS 1/2: p99 publish→PUBACK / PUBREC latency (ms) */
  ackP99?: number | null;
  /** isolation: what the stalled/slow subscribers cost the healthy one, % (with --with-baseline) */
  costPercent?: number | null;
  /** isolation: where the clients landed (bench/isolation/placement.ts), baseline/measured */
  layout?: string | null;
  /** isolation: broker CPU µs per message the stalled/slow subscribers added (with --with-baseline) */
  extraCpuUs?: number | null;
  /** messages the tool received (loadtest, pingtest): what broker CPU per message divides by */
  messages?: number | null;
}

/** One tool run against one fresh broker. */
export interface RunRecord {
  round: number; // 1-based
  position: number; // 1-based place in its round's order
  broker: string;
  ok: boolean;
  /** why the run does not count, e.g. "lost 12" or "exit 1, no JSON"; null when ok */
  failure: string | null;
  exitCode: number | null;
  figures: RunFigures | null;
  /** broker CPU seconds spent during the tool run (not start-up) */
  brokerCpuSeconds: number | null;
  brokerPeakRssBytes: number | null;
  wallMs: number;
  report: ToolReport | null;
}

/** The metrics that have a median and a ratio. */
export const METRICS = ['rate', 'connectRate', 'p50', 'p99', 'cpuSeconds', 'cpuPerMessage', 'peakRssBytes', 'rssPerConnBytes'] as const;
export type Metric = (typeof METRICS)[number];

/** For throughput more is better; for latency, CPU and memory less is. */
export const HIGHER_IS_BETTER: Record<Metric, boolean> = {
  rate: true,
  connectRate: true,
  p50: false,
  p99: false,
  cpuSeconds: false,
  /** broker CPU µs per message the tool received */
  cpuPerMessage: false,
  peakRssBytes: false,
  rssPerConnBytes: false,
};

export type MetricValues = Record<Metric, number | null>;

export interface BrokerSummary extends MetricValues {
  broker: string;
  runs: number;
  okRuns: number;
  /** lost messages summed over every run: a median would hide a single bad round */
  lost: number;
  /** "lost 12 in round 2" and the like */
  failures: string[];
  /** median p99 publish→PUBACK / PUBREC latency (QoS 1/2 loadtest), ms */
  ackP99?: number | null;
  /** isolation: median cost %, and median broker CPU µs/msg the stalled/slow subscribers added */
  costPercent?: number | null;
  extraCpuUs?: number | null;
}

/** baseline vs other; every value > 1 means the baseline did better */
export interface RatioRow extends MetricValues {
  baseline: string;
  other: string;
}

export interface CompareEnv {
  node: string;
  cpu: string;
  cores: number;
  git: string;
  time: string;
  /** 1-minute load average when the comparison started: a busy machine makes every figure noisier */
  loadAvg1: number;
}

export interface Comparison {
  tool: 'bench-compare';
  version: 1;
  workload: string;
  toolArgs: string[];
  rounds: number;
  shards: number;
  warmup: boolean;
  baseline: string;
  brokers: string[];
  skipped: { broker: string; reason: string }[];
  env: CompareEnv;
  runs: RunRecord[];
  summary: BrokerSummary[];
  ratios: RatioRow[];
}

// isolation: what one slow or stalled subscriber costs everyone else (issue #12). One
// publisher sends --messages on a topic; --healthy subscribers read it at full speed;
// --stalled subscribers on `#` subscribe and never read again; --slow subscribers on `#`
// read at most --slow-rate messages/s. The figure (`rate`) is the healthy subscriber's
// delivered rate, so bench:compare's ratios compare healthy-subscriber rates.
import { parseToolArgs, formatHelp, UsageError, type OptionSpec, type Options } from '../lib/args.ts';
import { COMMON_SPECS, commonParams, readCommon } from '../lib/common-options.ts';
import { connSettings } from '../lib/conn-settings.ts';
import { resolveBroker, hostPort } from '../lib/resolve.ts';
import { computeFigures, round3, type Figures } from '../lib/figures.ts';
import { explainFailure } from '../lib/errors.ts';
import { commonLines, emit, makeReport } from '../lib/report.ts';
import { envInfo } from '../lib/sysinfo.ts';
import { runCli } from '../lib/cli.ts';
import type { QoS } from '../lib/packets.ts';
import { runScenario, type ScenarioResult, type ScenarioSpec } from './scenario.ts';
import { summarizeReaders, type ReaderGroup } from './readers-summary.ts';
import { layoutProblem } from './placement.ts';
import { procCpuSeconds } from '../brokers/proc-stats.ts';

const SPECS: OptionSpec[] = [
  { name: 'messages', kind: 'string', arg: 'N', help: 'messages the publisher sends (default 200000)' },
  { name: 'healthy', kind: 'string', arg: 'N', help: 'subscribers on the data topic that read at full speed (default 1)' },
  { name: 'stalled', kind: 'string', arg: 'N', help: 'subscribers on # that subscribe and never read again (default 2)' },
  { name: 'stalled-qos', kind: 'string', arg: '0|1|2', help: 'QoS of every stalled subscription (default: 0 and 1 alternating)' },
  { name: 'slow', kind: 'string', arg: 'N', help: 'subscribers on # that read at most --slow-rate messages/s (default 0)' },
  { name: 'slow-rate', kind: 'string', arg: 'N', help: 'messages/s a slow subscriber reads (default 1000)' },
  { name: 'slow-qos', kind: 'string', arg: '0|1|2', help: 'QoS of every slow subscription (default: 0 and 1 alternating)' },
  { name: 'probe-deadline', kind: 'string', arg: 'SECONDS', help: 'a probe round trip longer than this is missed (default 2)' },
  { name: 'probe-interval', kind: 'string', arg: 'MS', help: 'how often the probe pair sends (default 250)' },
  { name: 'admin', kind: 'string', arg: 'URL', help: "the broker's admin HTTP base URL (Shoal --http-port): report which shard each client landed on (bench:compare passes it)" },
  { name: 'layout', kind: 'string', arg: 'DIGITS', help: 'with --admin: re-make connections until the clients land so (publisher, healthy…, stalled…, slow…; equal digits share a shard), e.g. 0011' },
  { name: 'broker-pid', kind: 'string', arg: 'PID', help: "read the broker's CPU time (/proc) around each phase: CPU per message, and what the stalled/slow subscribers add (bench:compare passes it)" },
  { name: 'with-baseline', kind: 'flag', help: 'first run the same load without stalled and slow subscribers, then report what they cost in %' },
  ...COMMON_SPECS,
];

const HELP = `usage: npm run bench:isolation -- [options]

Isolation (issue #12): one publisher sends --messages × --payload-size at --qos on
<run>/data; --healthy subscribers read it at full speed; --stalled subscribers on '#'
(QoS 0 and 1 alternating) subscribe and then never read (socket paused, kept open);
--slow subscribers on '#' read at most --slow-rate messages/s (pause/resume). A probe pair
bounces one QoS 1 message at a time on <run>/probe/* (which '#' matches too) and counts
round trips that miss --probe-deadline.
The figure (rate) is the mean delivered rate of one healthy subscriber (publish start to
its last delivery); lost/duplicated/out of order are the healthy subscribers'; latency is
the probe's round trip. Stalled and slow subscribers' counts (messages and bytes read,
and from /proc/net/tcp the bytes piled up unread on our side and unsent on the broker's)
are reported; their QoS 0 loss is expected, not a failure. --stalled 0 --slow 0 is the
baseline; --with-baseline runs it first on the same broker and reports the cost in %.
--qos defaults to 1 and --payload-size to 1024 here (the issue's scenario). Runs in one
thread (--threads is accepted and ignored). Exit 0 pass, 1 loss for a
healthy subscriber or --gate failed, 2 usage or connection error.

options:
${formatHelp(SPECS)}`;

function qosList(o: Options, name: string): QoS[] {
  if (!o.has(name)) return [0, 1];
  return [o.int(name, 0, 0, 2) as QoS];
}

export interface IsolationFigures {
  /** Mean delivered messages/s of one healthy subscriber (= figures.rate). */
  healthyRate: number;
  /** Messages the publisher had acknowledged (QoS 0: written) per second. */
  publisherAckRate: number;
  healthyMinDelivered: number;
  deliveryLatency: ReturnType<ScenarioResult['deliveryLatency']['summary']>;
  probe: ScenarioResult['probe'];
  stalled: ReaderGroup;
  slow: ReaderGroup;
  publisherStoppedBy: string | null;
  /** Where the clients landed (placement.ts), measured phase and baseline; null without --admin. */
  layout: string | null;
  baselineLayout: string | null;
  /** Connections re-made to reach --layout, both phases. */
  placementRemakes: number;
  /** The run without stalled and slow subscribers; `lost`: what its healthy subscribers missed. */
  baseline: { healthyRate: number; publisherAckRate: number; elapsedMs: number; lost: number } | null;
  /** (1 − healthyRate / baseline.healthyRate) × 100, when --with-baseline. */
  costPercent: number | null;
  /** Broker CPU (--broker-pid) over each phase, s, and per message sent, µs; null without the pid. */
  brokerCpu: { measured: number; baseline: number | null; usPerMessage: number; baselineUsPerMessage: number | null } | null;
  /** What the stalled/slow subscribers added to the broker's CPU per message, µs (measured − baseline). */
  extraCpuUsPerMessage: number | null;
}

function perSecond(n: number, ms: number): number {
  return ms > 0 ? round3((n * 1000) / ms) : 0;
}

async function main(): Promise<void> {
  const args = parseToolArgs(process.argv.slice(2), SPECS, HELP);
  if (args === null) return;
  const { o } = args;
  const common = readCommon(o, { payloadSize: 1024, keepalive: 0 });
  if (!o.has('qos')) common.qos = 1;
  common.subQos = Math.max(1, common.qos) as QoS;
  const messages = o.int('messages', 200_000, 1, 0xffffffff);
  const healthy = o.int('healthy', 1, 1, 10_000);
  const stalled = o.int('stalled', 2, 0, 10_000);
  const slow = o.int('slow', 0, 0, 10_000);
  const slowRate = o.number('slow-rate', 1000, { min: 1 });
  const stalledQos = qosList(o, 'stalled-qos');
  const slowQos = qosList(o, 'slow-qos');
  const probeDeadlineMs = o.number('probe-deadline', 2, { min: 0.001, max: 3600 }) * 1000;
  const probeIntervalMs = o.int('probe-interval', 250, 1, 3_600_000);
  const withBaseline = o.flag('with-baseline');
  const admin = o.has('admin') ? o.string('admin', '').replace(/\/+$/, '') : null;
  const layout = o.has('layout') ? o.string('layout', '') : null;
  const layoutBad = layout === null ? null : layoutProblem(layout, 1 + healthy + stalled + slow);
  if (layoutBad !== null) throw new UsageError(layoutBad);
  if (withBaseline && stalled === 0 && slow === 0) throw new UsageError('--with-baseline needs --stalled or --slow above 0 (otherwise the run is its own baseline)');
  const params = {
    ...commonParams(common), threads: 1, messages, healthy, stalled, stalledQos, slow, slowRate, slowQos,
    probeDeadline: probeDeadlineMs / 1000, probeInterval: probeIntervalMs, withBaseline, layout,
  };

  const ip = await resolveBroker(common.host, common.source.length > 0);
  const broker = hostPort(ip, common.port);
  const env = envInfo(broker);
  const run = `isolation/${process.pid}-${Date.now().toString(36)}`;
  const spec: ScenarioSpec = {
    conn: connSettings(common, ip), prefix: run, messages, healthy, stalled, slow, slowRate, stalledQos, slowQos,
    rate: common.rate, probeDeadlineMs, probeIntervalMs, admin, layout,
  };
  // The baseline keeps the measured phase's publisher and healthy placement, without the others.
  const brokerPid = o.has('broker-pid') ? o.int('broker-pid', 0, 1) : null;
  const cpuOf = async (phase: () => Promise<ScenarioResult>): Promise<[ScenarioResult, number | null]> => {
    const before = brokerPid === null ? null : procCpuSeconds(brokerPid);
    const result = await phase();
    const after = brokerPid === null ? null : procCpuSeconds(brokerPid);
    return [result, before !== null && after !== null ? after - before : null];
  };
  const [base, baseCpu] = withBaseline
    ? await cpuOf(() => runScenario({ ...spec, prefix: `${run}/baseline`, stalled: 0, slow: 0, layout: layout === null ? null : layout.slice(0, 1 + healthy) }))
    : [null, null];
  const [r, cpu] = base !== null && base.firstFailure !== null ? [base, null] : await cpuOf(() => runScenario(spec));
  const usPer = (s: number | null, n: number): number | null => (s === null || n === 0 ? null : round3((s * 1e6) / n));
  const brokerCpu = cpu === null ? null : {
    measured: round3(cpu), baseline: baseCpu === null ? null : round3(baseCpu),
    usPerMessage: usPer(cpu, r.sent) ?? 0, baselineUsPerMessage: base === null ? null : usPer(baseCpu, base.sent),
  };

  const healthyRate = perSecond(r.healthy.unique / healthy, r.elapsedMs);
  const baseRate = base === null ? 0 : perSecond(base.healthy.unique / healthy, base.elapsedMs);
  const core = computeFigures({
    connectMs: r.connectMs, connections: r.connections, elapsedMs: r.elapsedMs, sent: r.sent,
    received: r.healthy.received, unique: r.healthy.unique, expected: messages * healthy,
    duplicated: r.healthy.duplicated, outOfOrder: r.healthy.outOfOrder,
    delivered: r.healthy.unique / healthy, latency: r.probeRtt.summary(), connectFailures: r.connectFailures,
  });
  const isolation: IsolationFigures = {
    healthyRate,
    publisherAckRate: perSecond(r.acked, r.publishMs),
    healthyMinDelivered: r.healthyMinUnique,
    deliveryLatency: r.deliveryLatency.summary(),
    probe: r.probe,
    stalled: summarizeReaders(r.stalled, r.sent),
    slow: summarizeReaders(r.slow, r.sent),
    publisherStoppedBy: r.stoppedBy,
    layout: r.placement.layout,
    baselineLayout: base?.placement.layout ?? null,
    placementRemakes: r.placement.remakes + (base?.placement.remakes ?? 0),
    baseline: base === null ? null : { healthyRate: baseRate, publisherAckRate: perSecond(base.acked, base.publishMs), elapsedMs: round3(base.elapsedMs), lost: base.sent * healthy - base.healthy.unique },
    costPercent: base === null || baseRate === 0 ? null : round3((1 - healthyRate / baseRate) * 100),
    brokerCpu,
    extraCpuUsPerMessage: brokerCpu === null || brokerCpu.baselineUsPerMessage === null ? null : round3(brokerCpu.usPerMessage - brokerCpu.baselineUsPerMessage),
  };
  const figures: Figures & { isolation: IsolationFigures } = { ...core, isolation };
  const error = r.firstFailure === null ? null : {
    code: r.firstFailure.code,
    message: `${explainFailure(r.firstFailure.code, { connections: r.connections, broker, sourceGiven: common.source.length > 0 })} (${r.firstFailure.message})`,
  };
  const report = makeReport('isolation', params, env, figures, common, error);
  const lines = commonLines(figures, 'probe round trip', r.probeRtt.stddevMs());
  const d = isolation.deliveryLatency;
  emit(report, common.json, [
    `broker ${broker}, MQTT ${common.protocol}, QoS ${common.qos}, ${messages} messages of ${common.payloadSize} bytes; ${healthy} healthy, ${stalled} stalled (QoS ${stalledQos.join('/')}), ${slow} slow at ${slowRate}/s (QoS ${slowQos.join('/')})`,
    ...lines.slice(0, 2),
    `healthy subscriber rate: ${Math.round(healthyRate)} msg/s${isolation.costPercent !== null ? ` (baseline ${Math.round(baseRate)} msg/s${isolation.baseline!.lost > 0 ? `, ${isolation.baseline!.lost} lost` : ''}: the stalled/slow subscribers cost ${isolation.costPercent}%)` : ''}`,
    `publisher acknowledged rate: ${Math.round(isolation.publisherAckRate)} msg/s${r.stoppedBy !== null ? ` (publisher stopped early: ${r.stoppedBy})` : ''}`,
    ...lines.slice(2),
    `publish→deliver latency (healthy, ms): p50 ${d.p50}  p99 ${d.p99}  max ${d.max}`,
    `probe: ${r.probe.sent} sent, ${r.probe.answered} answered, ${r.probe.missedDeadline} missed the ${r.probe.deadlineMs / 1000} s deadline`,
    ...(isolation.layout !== null ? [`layout (publisher, healthy, stalled, slow; equal digits share a shard): ${isolation.layout}${isolation.baselineLayout !== null ? `, baseline ${isolation.baselineLayout}` : ''}; ${isolation.placementRemakes} connection(s) re-made to place them`] : []),
    ...(brokerCpu !== null ? [`broker CPU: ${brokerCpu.measured} s (${brokerCpu.usPerMessage} µs/msg)${brokerCpu.baseline !== null ? `, baseline ${brokerCpu.baseline} s (${brokerCpu.baselineUsPerMessage} µs/msg): the stalled/slow subscribers add ${isolation.extraCpuUsPerMessage} µs/msg` : ''}`] : []),
    ...groupLines('stalled', isolation.stalled),
    ...groupLines('slow', isolation.slow),
  ]);
}

function groupLines(name: string, g: ReaderGroup): string[] {
  if (g.count === 0) return [];
  const q = g.queues === null ? '' : `; kernel: ${g.queues.oursUnread} bytes unread on our side, ${g.queues.brokerUnsent} unsent on the broker's`;
  return [`${name}: ${g.count} subscriber(s) got ${g.received} messages (${g.bytesRead} bytes) of ${g.offered} each offered${q}${g.closed > 0 ? `; ${g.closed} closed by the broker` : ''}`];
}

runCli('isolation', main);

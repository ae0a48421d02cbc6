// loadtest: one-way throughput. conns/2 pairs; publisher i sends --messages to
// loadtest/<i> as fast as it can (or --rate), subscriber i receives and checks them.
import { parseToolArgs, formatHelp, UsageError, type OptionSpec } from '../lib/args.ts';
import { COMMON_SPECS, commonParams, readCommon } from '../lib/common-options.ts';
import { connSettings, perThread, spread } from '../lib/conn-settings.ts';
import { resolveBroker, hostPort } from '../lib/resolve.ts';
import { ShardPool } from '../lib/shards.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { computeFigures } from '../lib/figures.ts';
import { sumCounts } from '../lib/tracker.ts';
import { explainFailure } from '../lib/errors.ts';
import { commonLines, emit, makeReport } from '../lib/report.ts';
import { envInfo } from '../lib/sysinfo.ts';
import { connectAll } from '../lib/connect-phase.ts';
import { runCli } from '../lib/cli.ts';
import { CEILING_LOADTEST } from '../lib/ceiling.ts';
import type { LoadInit, LoadRunResult } from './shard.ts';

const SPECS: OptionSpec[] = [
  { name: 'conns', kind: 'string', seed: 'conns', arg: 'N', help: 'connections, even: conns/2 publisher→subscriber pairs (default 100)' },
  { name: 'messages', kind: 'string', seed: 'messages', arg: 'N', help: 'messages per publisher (default 100)' },
  { name: 'fanout', kind: 'string', arg: 'N', help: 'fan-out instead of pairs: N subscribers on bench/#, one publisher sends --messages to bench/fanout (--conns is ignored)' },
  { name: 'sub-port', kind: 'string', arg: 'N', help: 'subscribers connect to this port instead (another node of a cluster: bench:cluster)' },
  { name: 'settle', kind: 'string', arg: 'MS', help: 'wait this long between connecting and publishing (a cluster announces new routes to other nodes within ms)' },
  { name: 'persistent-subs', kind: 'flag', help: 'subscribers keep their sessions (clean session 0, v5 session expiry 300 s): a persistent broker stores every QoS 1/2 delivery' },
  ...COMMON_SPECS,
];

const HELP = `usage: npm run bench:loadtest -- [options]

One-way throughput, as the seed's loadtest: subscriber sub<i> subscribes loadtest/<i>,
publisher pub<i> sends --messages back to back; at most 100 CONNECTs in flight.
Payload: 16 bytes by default (the seed's size) holding publisher id, sequence number and
send time, so every delivery gives a publish→deliver latency and a loss/dup/order check.
Reports time to establish connections, elapsed time, messages, messages/sec (delivered),
latency percentiles, lost / duplicated / out-of-order. Exit 0 pass, 1 loss or --gate
failed, 2 usage or connection error.

Ceiling (the tool's own limit, measured):
${CEILING_LOADTEST}

options:
${formatHelp(SPECS)}`;

async function main(): Promise<void> {
  const args = parseToolArgs(process.argv.slice(2), SPECS, HELP);
  if (args === null) return;
  const { o } = args;
  const common = readCommon(o, { payloadSize: 16, keepalive: 0 });
  const fanout = o.int('fanout', 0, 0, 1_000_000);
  const conns = fanout > 0 ? fanout + 1 : o.int('conns', 100, 2);
  if (fanout === 0 && conns % 2 !== 0) throw new UsageError(`--conns must be even (pairs of publisher and subscriber), got ${conns}`);
  const messages = o.int('messages', 100, 1, 0xffffffff);
  // Pairs mode: one stream per pair. Fan-out: one stream per subscriber, one publisher.
  const pairs = fanout > 0 ? fanout : conns / 2;
  const threads = Math.min(common.threads, pairs);
  const persistentSubs = o.flag('persistent-subs');
  const subPort = o.int('sub-port', 0, 0, 65535);
  const settleMs = o.int('settle', 0, 0, 60_000);
  const params = { ...commonParams(common), conns, messages, fanout, ...(persistentSubs ? { persistentSubs } : {}) };

  const ip = await resolveBroker(common.host, common.source.length > 0);
  const broker = hostPort(ip, common.port);
  const env = envInfo(broker);
  const conn = connSettings(common, ip);
  const inits: LoadInit[] = spread(pairs, threads).map((mine) => ({
    conn,
    pairs: mine,
    messages,
    ratePerPublisher: common.rate / pairs,
    connectConcurrency: perThread(100, threads),
    ...(fanout > 0 ? { fanout: { publisher: false } } : {}),
    persistentSubs,
    ...(subPort > 0 ? { subPort } : {}),
  }));
  // The fan-out publisher lives in the thread with the fewest subscribers (the last one).
  if (fanout > 0) inits[inits.length - 1]!.fanout = { publisher: true };
  const pool = await ShardPool.start(new URL('./shard.ts', import.meta.url), inits);
  try {
    const { connectMs, connections, failures, firstFailure } = await connectAll(pool, conns);

    let runs: LoadRunResult[] = [];
    if (firstFailure === null && settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
    if (firstFailure === null) runs = await pool.all<LoadRunResult>('run');
    const latency = new LatencyRecorder();
    for (const r of runs) latency.addEncoded(r.histogram);
    const ackLatency = new LatencyRecorder();
    for (const r of runs) ackLatency.addEncoded(r.ackHistogram);
    const counts = sumCounts(runs);
    const startMs = runs.length > 0 ? Math.min(...runs.map((r) => r.startMs)) : 0;
    const endMs = runs.length > 0 ? Math.max(...runs.map((r) => r.endMs)) : 0;
    const figures = computeFigures({
      connectMs, connections, elapsedMs: endMs - startMs,
      sent: runs.reduce((a, r) => a + r.sent, 0),
      received: counts.received, unique: counts.unique, expected: messages * pairs,
      duplicated: counts.duplicated, outOfOrder: counts.outOfOrder,
      latency: latency.summary(), connectFailures: failures,
    });
    if (common.qos > 0) figures.ackLatency = ackLatency.summary();
    const error = firstFailure === null ? null : {
      code: firstFailure.code,
      message: `${explainFailure(firstFailure.code, { connections, broker, sourceGiven: common.source.length > 0 })} (${firstFailure.message})`,
    };
    const report = makeReport('loadtest', params, env, figures, common, error);
    const stalled = runs.reduce((a, r) => a + r.stalled, 0);
    const foreign = runs.reduce((a, r) => a + r.foreign, 0);
    const rejected = runs.reduce((a, r) => a + r.rejected, 0);
    const lines = commonLines(figures, 'publish→deliver latency', latency.stddevMs());
    emit(report, common.json, [
      fanout > 0
        ? `broker ${broker}, MQTT ${common.protocol}, QoS ${common.qos}, fan-out: 1 publisher × ${messages} messages of ${common.payloadSize} bytes to ${fanout} subscribers on bench/#, ${threads} thread(s)`
        : `broker ${broker}, MQTT ${common.protocol}, QoS ${common.qos}, ${pairs} pairs × ${messages} messages of ${common.payloadSize} bytes, ${threads} thread(s)`,
      ...lines.slice(0, 2),
      `messages: ${figures.received}`,
      `messages/sec: ${Math.round(figures.rate)}`,
      ...lines.slice(2),
      ...(figures.ackLatency ? [`publish→${common.qos === 1 ? 'PUBACK' : 'PUBREC'} latency p50/p99: ${figures.ackLatency.p50} / ${figures.ackLatency.p99} ms`] : []),
      ...(stalled > 0 ? [`${stalled} publisher(s) stopped early (socket closed or no room for --timeout)`] : []),
      ...(foreign > 0 ? [`${foreign} deliveries without our header ignored`] : []),
      ...(rejected > 0 ? [`${rejected} publishes refused by the broker (v5 reason code)`] : []),
    ]);
    await pool.all('close');
  } finally {
    await pool.close();
  }
}

runCli('loadtest', main);

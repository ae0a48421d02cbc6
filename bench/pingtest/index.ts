// pingtest: round-trip latency under load. --pairs ping/reply pairs bounce one message at a
// time; --wsubs wildcard subscribers on pingtest/0/# must each see 2×messages.
import { parseToolArgs, formatHelp, type OptionSpec } from '../lib/args.ts';
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
import { CEILING_PINGTEST } from '../lib/ceiling.ts';
import type { PingInit, PingRunResult } from './shard.ts';

const SPECS: OptionSpec[] = [
  { name: 'pairs', kind: 'string', seed: 'pairs', arg: 'N', help: 'ping/reply pairs, 2 connections each (default 100)' },
  { name: 'wsubs', kind: 'string', seed: 'wsubs', arg: 'N', help: 'wildcard subscribers on pingtest/0/# (default 20)' },
  { name: 'messages', kind: 'string', seed: 'messages', arg: 'N', help: 'round trips per pair (default 1000)' },
  ...COMMON_SPECS,
];

const HELP = `usage: npm run bench:pingtest -- [options]

Round-trip latency under load, as the seed's pingtest: replier i subscribes
pingtest/<i>/request and answers on pingtest/<i>/reply; pinger i sends --messages requests
one at a time and times each round trip. Unlike the seed (reply payload 'ok'), the reply
echoes the request's 16-byte header (sequence number and send time), so round trips are
timed from the payload and every stream is checked for loss, duplicates and order.
A request or reply missing for --timeout ends that pair; the rest count as lost.
--rate N paces to N messages/s in total, i.e. N/2 round trips/s.
Reports time to establish connections, elapsed time, messages (= round trips × 2),
messages/sec, round-trip percentiles. Exit 0 pass, 1 loss or --gate failed, 2 usage or
connection error.

Ceiling (the tool's own limit, measured):
${CEILING_PINGTEST}

options:
${formatHelp(SPECS)}`;

async function main(): Promise<void> {
  const args = parseToolArgs(process.argv.slice(2), SPECS, HELP);
  if (args === null) return;
  const { o } = args;
  const common = readCommon(o, { payloadSize: 16, keepalive: 0 });
  const pairs = o.int('pairs', 100, 1);
  const wsubs = o.int('wsubs', 20, 0);
  const messages = o.int('messages', 1000, 1, 0xffffffff);
  const threads = Math.min(common.threads, pairs);
  const params = { ...commonParams(common), pairs, wsubs, messages };

  const ip = await resolveBroker(common.host, common.source.length > 0);
  const broker = hostPort(ip, common.port);
  const env = envInfo(broker);
  const conn = connSettings(common, ip);
  const inits: PingInit[] = spread(pairs, threads).map((mine, t) => ({
    conn,
    pairs: mine,
    wsubs: t === 0 ? wsubs : 0,
    messages,
    // --rate counts publishes, as messages/sec does: a round trip is two.
    ratePerPinger: common.rate / 2 / pairs,
    connectConcurrency: perThread(100, threads),
  }));
  const total = 2 * pairs + wsubs;
  const pool = await ShardPool.start(new URL('./shard.ts', import.meta.url), inits);
  try {
    const { connectMs, connections, failures, firstFailure } = await connectAll(pool, total);

    let runs: PingRunResult[] = [];
    if (firstFailure === null) runs = await pool.all<PingRunResult>('run');
    const latency = new LatencyRecorder();
    for (const r of runs) latency.addEncoded(r.histogram);
    const counts = sumCounts(runs);
    const roundTrips = runs.reduce((a, r) => a + r.roundTrips, 0);
    const startMs = runs.length > 0 ? Math.min(...runs.map((r) => r.startMs)) : 0;
    const endMs = runs.length > 0 ? Math.max(...runs.map((r) => r.endMs)) : 0;
    const figures = computeFigures({
      connectMs, connections, elapsedMs: endMs - startMs,
      sent: runs.reduce((a, r) => a + r.sent, 0),
      received: counts.received, unique: counts.unique,
      // requests to repliers + replies to pingers + pair 0's both ways to each wildcard subscriber
      expected: 2 * messages * pairs + 2 * messages * wsubs,
      duplicated: counts.duplicated, outOfOrder: counts.outOfOrder,
      // the seed's messages/sec: messages × 2 × pairs / elapsed, counting completed round trips
      delivered: 2 * roundTrips,
      latency: latency.summary(), connectFailures: failures,
    });
    const error = firstFailure === null ? null : {
      code: firstFailure.code,
      message: `${explainFailure(firstFailure.code, { connections, broker, sourceGiven: common.source.length > 0 })} (${firstFailure.message})`,
    };
    const report = makeReport('pingtest', params, env, figures, common, error);
    const aborted = runs.reduce((a, r) => a + r.aborted, 0);
    const foreign = runs.reduce((a, r) => a + r.foreign, 0);
    const lines = commonLines(figures, 'round-trip latency', latency.stddevMs());
    emit(report, common.json, [
      `broker ${broker}, MQTT ${common.protocol}, QoS ${common.qos}, ${pairs} pairs × ${messages} round trips, ${wsubs} wildcard subscribers, ${threads} thread(s)`,
      ...lines.slice(0, 2),
      `messages: ${2 * roundTrips}`,
      `messages/sec: ${Math.round(figures.rate)}`,
      ...lines.slice(2),
      ...(aborted > 0 ? [`${aborted} pair(s) gave up after --timeout without a reply`] : []),
      ...(foreign > 0 ? [`${foreign} deliveries without our header ignored`] : []),
    ]);
    await pool.all('close');
  } finally {
    await pool.close();
  }
}

runCli('pingtest', main);

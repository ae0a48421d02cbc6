// many: many slow long-lived clients. Starts --clients (0 = no end) one every --wait ms;
// each publishes TOPIC PAYLOAD at once and then every ~--pace s. Unlike the seed it
// measures: connect rate, connections held, failures by cause, publish rate, latency and
// loss seen by observers subscribed to TOPIC, broker RSS per connection (--broker-pid).
import { parseToolArgs, formatHelp, UsageError, type OptionSpec } from '../lib/args.ts';
import { COMMON_SPECS, commonParams, readCommon } from '../lib/common-options.ts';
import { connSettings, perThread } from '../lib/conn-settings.ts';
import { resolveBroker, hostPort } from '../lib/resolve.ts';
import { ShardPool } from '../lib/shards.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { addFailures, computeFigures } from '../lib/figures.ts';
import { sumCounts } from '../lib/tracker.ts';
import { explainFailure } from '../lib/errors.ts';
import { commonLines, emit, ms, makeReport } from '../lib/report.ts';
import { envInfo, readRss } from '../lib/sysinfo.ts';
import { startProgress } from '../lib/progress.ts';
import { FatalError, runCli } from '../lib/cli.ts';
import { nowMs } from '../lib/clock.ts';
import { HEADER_SIZE } from '../lib/payload.ts';
import { CEILING_MANY } from '../lib/ceiling.ts';
import { Sampler, type SoakSummary } from './sampler.ts';
import type { DrainResult, ManyInit, ObserveResult, RampResult, StopResult } from './shard.ts';
import { writeFileSync } from 'node:fs';
import { renderManyPlot } from './plot.ts';

const SPECS: OptionSpec[] = [
  { name: 'clients', kind: 'string', aliases: ['conns'], seed: 'conns', arg: 'N', help: 'clients to start; 0 = without end (default 10)' },
  { name: 'wait', kind: 'string', seed: 'wait', arg: 'MS', help: 'ms between client starts over the whole run (default 10)' },
  { name: 'pace', kind: 'string', seed: 'pace', arg: 'SECONDS', help: "mean seconds between one client's publishes, uniform in ±25% (default 60)" },
  { name: 'duration', kind: 'string', arg: 'SECONDS', help: 'run that long from the first connect, then report and exit (default: until Ctrl-C, which also reports)' },
  { name: 'broker-pid', kind: 'string', arg: 'PID', help: 'read the broker\'s VmRSS before and after the ramp to report bytes per connection' },
  { name: 'plot', kind: 'string', arg: 'FILE.svg', help: 'also draw connections held and broker RSS (with --broker-pid) over time into FILE.svg' },
  { name: 'sample', kind: 'string', arg: 'SECONDS', help: 'with --broker-pid: sample its RSS and CPU and the connections held every SECONDS (default 10; 0 = off); the report gets the samples, the RSS trend after the ramp (MiB/min) and the CPU % (the soak)' },
  { name: 'observers', kind: 'string', arg: 'N', help: 'extra clients subscribed to TOPIC that time and check every publish (default 1)' },
  ...COMMON_SPECS,
];

const HELP = `usage: npm run bench:many -- [options] [TOPIC [PAYLOAD]]

Many slow long-lived clients, as the seed's many: start --clients one every --wait ms;
each publishes TOPIC (default "many") with PAYLOAD (default "hello") at once, then every
~--pace s (uniform ±25%), keepalive 60 s by default. The payload is the ${HEADER_SIZE}-byte
header (client id, sequence, send time) followed by PAYLOAD. --rate N sets the pace to
clients/N s. Observers subscribed to TOPIC report publish→deliver latency and loss.
Local limits end the ramp with a clear message: open files (EMFILE: ulimit -n), local
ports per source address (EADDRNOTAVAIL: --source 127.0.0.1-127.0.0.16).
Exit 0 pass, 1 loss or --gate failed, 2 usage or connection error (or a limit reached).

Ceiling (the tool's own limit, measured):
${CEILING_MANY}

options:
${formatHelp(SPECS)}`;

async function main(): Promise<void> {
  const args = parseToolArgs(process.argv.slice(2), SPECS, HELP, 2);
  if (args === null) return;
  const { parsed, o } = args;
  const topic = parsed.positionals[0] ?? 'many';
  const payload = parsed.positionals[1] ?? 'hello';
  if (topic === '' || /[+#]/.test(topic)) throw new UsageError(`TOPIC must be a topic name without wildcards, got "${topic}"`);
  const common = readCommon(o, { payloadSize: HEADER_SIZE + Buffer.byteLength(payload), keepalive: 60 });
  const clients = o.int('clients', 10, 0);
  const waitMs = o.number('wait', 10, { min: 0 });
  let paceS = o.number('pace', 60, { min: 0.001 });
  if (common.rate > 0) {
    if (clients === 0) throw new UsageError('--rate needs --clients > 0 (the pace is clients / rate)');
    paceS = clients / common.rate;
  }
  const durationS = o.has('duration') ? o.number('duration', 0, { min: 0.001 }) : null;
  const brokerPid = o.has('broker-pid') ? o.int('broker-pid', 0, 1) : null;
  if (brokerPid !== null && readRss(brokerPid) === null) throw new UsageError(`--broker-pid ${brokerPid}: cannot read /proc/${brokerPid}/status`);
  const sampleS = o.number('sample', 10, { min: 0 });
  const observers = o.int('observers', 1, 0);
  const threads = clients > 0 ? Math.min(common.threads, clients) : common.threads;
  const params = { ...commonParams(common), clients, wait: waitMs, pace: paceS, duration: durationS, brokerPid, observers, topic, payload };

  const ip = await resolveBroker(common.host, common.source.length > 0);
  const broker = hostPort(ip, common.port);
  const env = envInfo(broker);
  const conn = connSettings(common, ip);
  const inits: ManyInit[] = Array.from({ length: threads }, (_, t) => ({
    conn, clients, waitMs, paceMs: paceS * 1000, topic, payload,
    observers: Math.floor(observers / threads) + (t < observers % threads ? 1 : 0),
    connectConcurrency: perThread(100, threads),
  }));
  const sourceGiven = common.source.length > 0;
  const pool = await ShardPool.start(new URL('./shard.ts', import.meta.url), inits);
  try {
    const watched = await pool.all<ObserveResult>('observe');
    const observerFailure = watched.find((w) => w.firstFailure !== null)?.firstFailure ?? null;
    if (observerFailure !== null) {
      throw new FatalError(observerFailure.code, `observer: ${explainFailure(observerFailure.code, { connections: 0, broker, sourceGiven })} (${observerFailure.message})`);
    }
    const rssBefore = brokerPid === null ? null : readRss(brokerPid);
    let rssAfter: number | null = null;
    const t0 = nowMs();
    // One sampler for the soak summary (--broker-pid with --sample) and the picture (--plot,
    // a sample a second).
    const plotFile = o.has('plot') ? o.string('plot', '') : '';
    const soakOn = brokerPid !== null && sampleS > 0;
    const sampler = soakOn || plotFile !== ''
      ? new Sampler(brokerPid, plotFile !== '' ? Math.min(1, soakOn ? sampleS : 1) : sampleS, () => pool.totalProgress())
      : null;
    let rampEndMs: number | null = null;
    const ramp = pool.all<RampResult>('ramp', t0).then((r) => {
      rampEndMs = Math.max(...r.map((x) => x.endMs));
      sampler?.rampEnded();
      if (brokerPid !== null) rssAfter = readRss(brokerPid);
      return r;
    });
    const stopProgress = startProgress(() => {
      const p = pool.totalProgress();
      const secs = (nowMs() - t0) / 1000;
      return `${rampEndMs === null ? 'ramping' : 'holding'}: ${p.connected}${clients > 0 ? `/${clients}` : ''} held, ${p.failed} failed, ${secs.toFixed(0)} s`;
    });
    await untilStop(durationS, ramp);
    stopProgress();
    const sampled: SoakSummary | null = sampler === null ? null : sampler.stop();
    if (plotFile !== '' && sampled !== null) {
      writeFileSync(plotFile, renderManyPlot(`bench:many ${clients} clients every ${waitMs} ms against ${broker}`, sampled.samples));
    }
    const soak = soakOn ? sampled : null;
    const stopped = await pool.all<StopResult>('stop');
    const ramps = await ramp;
    if (rampEndMs === null) rampEndMs = nowMs();
    if (brokerPid !== null && rssAfter === null) rssAfter = readRss(brokerPid);
    const stopMs = nowMs();
    const sent = stopped.reduce((a, s) => a + s.sent, 0);
    const drains = await pool.all<DrainResult>('drain', sent);

    const latency = new LatencyRecorder();
    for (const d of drains) latency.addEncoded(d.histogram);
    const counts = sumCounts(drains);
    const failures: Record<string, number> = {};
    for (const r of ramps) addFailures(failures, r.failures);
    const connectedInRamp = ramps.reduce((a, r) => a + r.connected, 0);
    const held = stopped.reduce((a, s) => a + s.held, 0);
    const dropped = stopped.reduce((a, s) => a + s.dropped, 0);
    const rssPerConn = rssBefore !== null && rssAfter !== null && connectedInRamp > 0 ? Math.round((rssAfter - rssBefore) / connectedInRamp) : null;
    const observersHeld = watched.reduce((a, w) => a + w.connected, 0);
    const figures = computeFigures({
      connectMs: rampEndMs - t0, connections: held, elapsedMs: stopMs - t0,
      sent, received: counts.received, unique: counts.unique, expected: sent * observersHeld,
      duplicated: counts.duplicated, outOfOrder: counts.outOfOrder,
      latency: latency.summary(), connectFailures: failures, brokerRssPerConnBytes: rssPerConn,
    });
    // connectRate is over the clients the ramp connected, not those still held at the end.
    figures.connectRate = figures.connectMs > 0 ? Math.round((connectedInRamp * 1e6) / figures.connectMs) / 1000 : 0;
    const limit = ramps.find((r) => r.endedBy !== null && r.endedBy !== 'stopped');
    const firstFailure = ramps.find((r) => r.firstFailure !== null)?.firstFailure ?? null;
    const error = limit === undefined ? null : {
      code: limit.endedBy === 'ALL_FAILED' ? firstFailure?.code ?? 'ALL_FAILED' : limit.endedBy ?? '',
      message: `ramp stopped: ${explainFailure(limit.endedBy === 'ALL_FAILED' ? firstFailure?.code ?? 'ALL_FAILED' : limit.endedBy ?? '', { connections: connectedInRamp, broker, sourceGiven })}`,
    };
    const report = Object.assign(makeReport('many', params, env, figures, common, error, true), soak === null ? {} : { soak });
    const foreign = drains.reduce((a, d) => a + d.foreign, 0);
    const lines = commonLines(figures, 'publish→deliver latency (observers)', latency.stddevMs());
    emit(report, common.json, [
      `broker ${broker}, MQTT ${common.protocol}, QoS ${common.qos}, ${clients === 0 ? 'no end of' : clients} clients every ${waitMs} ms, pace ${paceS} s, keepalive ${common.keepalive} s, ${threads} thread(s)`,
      ...lines.slice(0, 2),
      `connections held: ${held} (${connectedInRamp} connected, ${dropped} dropped by the broker)`,
      `messages: ${sent} published, ${figures.received} delivered to ${observersHeld} observer(s)`,
      `messages/sec: ${figures.publishRate} published, ${figures.rate} delivered`,
      ...lines.slice(2),
      ...(rssPerConn !== null ? [`broker RSS: ${mb(rssBefore)} before ramp, ${mb(rssAfter)} after: ${rssPerConn} bytes per connection`] : []),
      ...(soak !== null ? [`soak: ${soak.samples.length} samples; after the ramp RSS ${soak.rssMinMiB}–${soak.rssMaxMiB} MiB, trend ${soak.rssSlopeMiBPerMin} MiB/min; broker CPU ${soak.cpuPercent}% of a core; held ${soak.heldMin}–${soak.heldMax}`] : []),
      ...(foreign > 0 ? [`${foreign} deliveries without our header ignored`] : []),
      `ramp took ${ms(figures.connectMs)}`,
    ]);
    await pool.all('close');
  } finally {
    await pool.close();
  }
}

/** Resolves on --duration, Ctrl-C / SIGTERM, or when the ramp ended with nothing to hold. */
function untilStop(durationS: number | null, ramp: Promise<RampResult[]>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      if (timer !== null) clearTimeout(timer);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    const timer = durationS === null ? null : setTimeout(done, durationS * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    void ramp.then((r) => {
      if (r.some((x) => x.endedBy === 'ALL_FAILED') && r.every((x) => x.connected === 0)) done();
    });
  });
}

function mb(bytes: number | null): string {
  return bytes === null ? '?' : `${(bytes / 1048576).toFixed(1)} MiB`;
}

runCli('many', main);

// One run of the isolation scenario against a broker: healthy subscribers on the data
// topic that read at full speed, stalled and slow subscribers on `#`, the probe pair, then
// one publisher sending `messages` as fast as the broker lets it. Returns raw counts; the
// caller turns them into figures.
import { LeanClient, randomClientId } from '../lib/client.ts';
import { clientOptions, type ConnSettings } from '../lib/conn-settings.ts';
import { connectAll, connectOne, type ConnectPlan } from '../lib/connector.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { PublishTemplate, type QoS } from '../lib/packets.ts';
import { makePayload } from '../lib/payload.ts';
import { Pacer } from '../lib/pacer.ts';
import { pump } from '../lib/publisher.ts';
import { Activity, makeReceiver, waitUntil } from '../lib/receiver.ts';
import { StreamSet, sumCounts, type StreamCounts } from '../lib/tracker.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import { ControlledReader, type ReaderReport } from './reader.ts';
import { Probe, type ProbeReport } from './probe.ts';
import { place, type PlacementReport, type Slot } from './placement.ts';

export interface ScenarioSpec {
  conn: ConnSettings;
  /** Topic prefix unique to this run. */
  prefix: string;
  messages: number;
  healthy: number;
  stalled: number;
  slow: number;
  slowRate: number;
  /** QoS of each stalled / slow subscription, by index (cycled). */
  stalledQos: QoS[];
  slowQos: QoS[];
  /** Publishes per second; 0 = as fast as possible. */
  rate: number;
  probeDeadlineMs: number;
  probeIntervalMs: number;
  /** The broker's admin URL, to read (and with `layout`, choose) where each client landed; null: not known. */
  admin: string | null;
  /** Wanted layout (placement.ts), one digit per publisher, healthy, stalled, slow client; null: as the kernel hashes. */
  layout: string | null;
}

export interface ScenarioResult {
  connectMs: number;
  connections: number;
  connectFailures: Record<string, number>;
  firstFailure: { code: string; message: string } | null;
  sent: number;
  acked: number;
  /** Publisher start → last healthy delivery. */
  elapsedMs: number;
  /** Publisher start → last PUBACK/PUBCOMP (QoS 1/2) or last write (QoS 0). */
  publishMs: number;
  healthy: StreamCounts;
  /** Unique deliveries of the healthy subscriber that got the fewest. */
  healthyMinUnique: number;
  deliveryLatency: LatencyRecorder;
  probe: ProbeReport;
  probeRtt: LatencyRecorder;
  stalled: ReaderReport[];
  slow: ReaderReport[];
  stoppedBy: string | null;
  placement: PlacementReport;
}

/** Publisher ids in the payload header: the data publisher is 0, the probe pair 1 and 2. */
const DATA_PUBLISHER = 0;
const PROBE_PUBLISHER = 1;

export async function runScenario(s: ScenarioSpec): Promise<ScenarioResult> {
  const c = s.conn;
  const dataTopic = `${s.prefix}/data`;
  const activity = new Activity();
  const deliveryLatency = new LatencyRecorder();
  const streams = Array.from({ length: s.healthy }, () => new StreamSet());
  const readers: ControlledReader[] = [];
  const clients: (LeanClient | null)[] = [];
  const t0 = nowMs();
  try {
    const plans: ConnectPlan[] = [
      ...streams.map((_, i) => ({ options: clientOptions(c, `healthy${i}`, i), topics: [dataTopic] })),
      { options: clientOptions(c, 'probe-ping', 0), topics: [`${s.prefix}/probe/rep`] },
      { options: clientOptions(c, 'probe-reply', 0), topics: [`${s.prefix}/probe/req`] },
      { options: clientOptions(c, 'publisher', 0), topics: [] },
    ];
    const out = await connectAll(plans, { concurrency: 100, subQos: c.subQos, stopOnFailure: true });
    clients.push(...out.clients);
    // `counted`: the connector has already counted this failure in out.failures.
    const failed = (code: string, message: string, counted: boolean): ScenarioResult => ({
      ...empty(s, deliveryLatency), connectMs: nowMs() - t0, connections: out.connected,
      connectFailures: counted ? out.failures : { ...out.failures, [code]: (out.failures[code] ?? 0) + 1 },
      firstFailure: { code, message },
    });
    if (out.firstFailure !== null) return failed(out.firstFailure.code, out.firstFailure.message, true);

    const start = (mode: 'stalled' | 'slow', i: number): ControlledReader => {
      const qos = (mode === 'stalled' ? s.stalledQos : s.slowQos);
      const r = new ControlledReader({
        host: c.host, port: c.port, level: c.level, filter: '#', qos: qos[i % qos.length]!, mode, rate: s.slowRate,
        timeoutMs: c.timeoutMs, username: c.user, password: c.pass,
      });
      readers.push(r);
      return r;
    };
    const stalled = Array.from({ length: s.stalled }, (_, i) => start('stalled', i));
    const slow = Array.from({ length: s.slow }, (_, i) => start('slow', i));
    const lean = out.clients as LeanClient[];
    // A client slot re-made by placement: the new connection replaces the old in its list.
    const leanSlot = (k: number): Slot => ({
      id: () => lean[k]!.options.clientId,
      remake: async () => {
        await lean[k]!.disconnect(c.timeoutMs);
        lean[k] = await connectOne({ ...plans[k]!, options: { ...plans[k]!.options, clientId: randomClientId() } }, c.subQos);
        clients.push(lean[k]!);
      },
    });
    const readerSlot = (list: ControlledReader[], i: number): Slot => ({
      id: () => list[i]!.clientId,
      remake: async () => {
        list[i]!.destroy();
        list[i] = start(list[i]!.mode, i);
        await list[i]!.start();
      },
    });
    let placement: PlacementReport;
    try {
      await Promise.all(readers.map((r) => r.start()));
      placement = await place(s.admin, [
        leanSlot(s.healthy + 2), ...streams.map((_, i) => leanSlot(i)),
        ...stalled.map((_, i) => readerSlot(stalled, i)), ...slow.map((_, i) => readerSlot(slow, i)),
      ], s.layout, c.timeoutMs);
    } catch (err) {
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'ESOCKET';
      return failed(code, err instanceof Error ? err.message : String(err), false);
    }
    const connectMs = nowMs() - t0;
    const healthy = lean.slice(0, s.healthy);
    const [pinger, replier, publisher] = lean.slice(s.healthy);
    healthy.forEach((h, i) => { h.onMessage = makeReceiver(h, streams[i]!, deliveryLatency, activity); });

    const probe = new Probe(pinger!, replier!, s.prefix, c.level, {
      deadlineMs: s.probeDeadlineMs, intervalMs: s.probeIntervalMs, publisherId: PROBE_PUBLISHER,
    });
    const tpl = new PublishTemplate(dataTopic, makePayload(c.payloadSize, DATA_PUBLISHER, 'isolation'), c.qos, c.level);
    let acked = 0;
    let lastAckMs = 0;
    publisher!.onAck = () => { acked++; lastAckMs = publisher!.chunkTimeMs; };
    const startMs = nowMs();
    activity.lastMs = startMs;
    probe.start();
    const result = await pump(publisher!, tpl, s.messages, {
      pacer: s.rate > 0 ? new Pacer(s.rate) : null, timeoutMs: c.timeoutMs,
      onSent: () => { activity.lastMs = nowMs(); },
    });
    const lastWriteMs = nowMs();
    // Acks still due: wait for them as long as they keep coming.
    if (c.qos > 0) {
      let seen = acked;
      let quietSince = nowMs();
      while (publisher!.inflight > 0 && !publisher!.closed && nowMs() - quietSince < c.timeoutMs) {
        await sleep(5);
        if (acked !== seen) { seen = acked; quietSince = nowMs(); }
      }
    }
    await waitUntil(() => healthy.every((h, i) => streams[i]!.unique >= result.sent || h.closed), activity, c.timeoutMs);
    const probeReport = probe.stop();
    const brokerPort = c.port;
    return {
      connectMs,
      connections: out.connected + stalled.length + slow.length,
      connectFailures: {},
      firstFailure: null,
      sent: result.sent,
      acked: c.qos > 0 ? acked : result.sent,
      elapsedMs: Math.max(activity.lastDeliveryMs, startMs) - startMs,
      publishMs: (c.qos > 0 ? Math.max(lastAckMs, startMs) : lastWriteMs) - startMs,
      healthy: sumCounts(streams),
      healthyMinUnique: Math.min(...streams.map((x) => x.unique)),
      deliveryLatency,
      probe: probeReport,
      probeRtt: probe.rtt,
      stalled: stalled.map((r) => r.report(brokerPort)),
      slow: slow.map((r) => r.report(brokerPort)),
      stoppedBy: result.stoppedBy,
      placement,
    };
  } finally {
    for (const r of readers) r.destroy();
    await Promise.all(clients.map((cl) => cl?.disconnect(c.timeoutMs)));
  }
}

function empty(s: ScenarioSpec, deliveryLatency: LatencyRecorder): ScenarioResult {
  return {
    connectMs: 0, connections: 0, connectFailures: {}, firstFailure: null, sent: 0, acked: 0, elapsedMs: 0, publishMs: 0,
    healthy: { received: 0, unique: 0, duplicated: 0, outOfOrder: 0 }, healthyMinUnique: 0, deliveryLatency,
    probe: { sent: 0, answered: 0, missedDeadline: 0, deadlineMs: s.probeDeadlineMs }, probeRtt: new LatencyRecorder(),
    stalled: [], slow: [], stoppedBy: null, placement: { layout: null, remakes: 0 },
  };
}

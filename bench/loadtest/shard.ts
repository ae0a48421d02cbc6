// loadtest's per-thread part: pairs sub<i> ← pub<i> on loadtest/<i>; publishers send back
// to back (or paced), subscribers check every stream and time every delivery.
import { connectAll } from '../lib/connector.ts';
import { clientOptions, type ConnSettings } from '../lib/conn-settings.ts';
import type { LeanClient } from '../lib/client.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { PublishTemplate } from '../lib/packets.ts';
import { makePayload } from '../lib/payload.ts';
import { Pacer } from '../lib/pacer.ts';
import { pump, type PumpResult } from '../lib/publisher.ts';
import { Activity, makeReceiver, waitUntil } from '../lib/receiver.ts';
import { StreamSet, sumCounts, type StreamCounts } from '../lib/tracker.ts';
import { nowMs } from '../lib/clock.ts';
import type { Shard, ShardContext } from '../lib/shards.ts';

export interface LoadInit {
  conn: ConnSettings;
  /** Global pair numbers this thread runs. */
  pairs: number[];
  messages: number;
  /** Messages/s for each publisher; 0 = unpaced. */
  ratePerPublisher: number;
  connectConcurrency: number;
  /**
   * Fan-out mode (--fanout): `pairs` are then subscriber numbers, all on `bench/#`, and the
   * thread with `publisher` runs the one publisher sending --messages to `bench/fanout`.
   */
  fanout?: { publisher: boolean };
  /** Subscribers keep their sessions (broker persistence then stores every QoS 1/2 delivery). */
  persistentSubs: boolean;
  /** --sub-port: subscribers connect to this port of the host (another cluster node, bench:cluster). */
  subPort?: number;
}

import type { ConnectResult as LoadConnectResult } from '../lib/connect-phase.ts';
export type { LoadConnectResult };

export interface LoadRunResult extends StreamCounts {
  sent: number;
  startMs: number;
  /** Time of the last delivery (or of the start when none). */
  endMs: number;
  histogram: string;
  /** publish→PUBACK/PUBREC latency (QoS 1/2), encoded like `histogram`. */
  ackHistogram: string;
  stalled: number;
  foreign: number;
  rejected: number;
}

const FILLER = 'loadtest payload';
const FANOUT_TOPIC = 'bench/fanout';
const FANOUT_FILTER = 'bench/#';

export function createShard(initRaw: unknown, ctx: ShardContext): Shard {
  const init = initRaw as LoadInit;
  const subs: (LeanClient | null)[] = [];
  const pubs: (LeanClient | null)[] = [];
  const fan = init.fanout ?? null;
  const streams = init.pairs.map(() => new StreamSet());
  const latency = new LatencyRecorder();
  const ackLatency = new LatencyRecorder();
  const activity = new Activity();

  async function connect(): Promise<LoadConnectResult> {
    const c = init.conn;
    const pubNumbers = fan === null ? init.pairs : fan.publisher ? [0] : [];
    const plans = [
      ...init.pairs.map((i) => ({ options: { ...clientOptions(c, `sub${i}`, 2 * i), ...(init.subPort !== undefined ? { port: init.subPort } : {}), persistent: init.persistentSubs }, topics: [fan === null ? `loadtest/${i}` : FANOUT_FILTER] })),
      ...pubNumbers.map((i) => ({ options: clientOptions(c, `pub${i}`, 2 * i + 1), topics: [] })),
    ];
    const out = await connectAll(plans, {
      concurrency: init.connectConcurrency,
      subQos: c.subQos,
      stopOnFailure: true,
      onProgress: (connected, failed) => ctx.progress({ connected, failed }),
    });
    const n = init.pairs.length;
    subs.push(...out.clients.slice(0, n));
    pubs.push(...out.clients.slice(n, n + pubNumbers.length));
    subs.forEach((s, k) => { if (s !== null) s.onMessage = makeReceiver(s, streams[k], latency, activity); });
    if (c.qos > 0) for (const p of pubs) if (p !== null) p.onAck = (ms) => ackLatency.recordMs(ms);
    return { connected: out.connected, failures: out.failures, firstFailure: out.firstFailure };
  }

  async function run(): Promise<LoadRunResult> {
    const c = init.conn;
    const startMs = nowMs();
    activity.lastMs = startMs;
    const pubNumbers = fan === null ? init.pairs : fan.publisher ? [0] : [];
    const results: PumpResult[] = await Promise.all(pubNumbers.map((i, k) => {
      const pub = pubs[k];
      if (pub === null) return { sent: 0, stoppedBy: 'closed' as const };
      const tpl = new PublishTemplate(fan === null ? `loadtest/${i}` : FANOUT_TOPIC, makePayload(c.payloadSize, i, FILLER), c.qos, c.level);
      const pacer = init.ratePerPublisher > 0 ? new Pacer(init.ratePerPublisher) : null;
      return pump(pub, tpl, init.messages, { pacer, timeoutMs: c.timeoutMs, onSent: () => activity.touch() });
    }));
    // Wait for what was sent, not for what should have been: a stalled publisher's unsent
    // messages are already lost and must not add a timeout. (Fan-out: the publisher may be in
    // another thread, so every subscriber waits for all; silence ends the wait.)
    const sentBy = fan === null ? results.map((r) => r.sent) : init.pairs.map(() => init.messages);
    await waitUntil(
      () => streams.every((s, k) => s.unique >= sentBy[k]! || subs[k] === null || subs[k].closed),
      activity, c.timeoutMs,
    );
    const counts = sumCounts(streams);
    return {
      ...counts,
      sent: results.reduce((a, r) => a + r.sent, 0),
      startMs,
      endMs: counts.received > 0 ? activity.lastDeliveryMs : startMs,
      histogram: latency.encode(),
      ackHistogram: ackLatency.encode(),
      stalled: results.filter((r) => r.stoppedBy !== null).length,
      foreign: activity.foreign,
      rejected: pubs.reduce((a, p) => a + (p?.rejected ?? 0), 0),
    };
  }

  async function close(): Promise<void> {
    await Promise.all([...subs, ...pubs].map((cl) => cl?.disconnect(init.conn.timeoutMs)));
  }

  return {
    call(phase) {
      switch (phase) {
        case 'connect': return connect();
        case 'run': return run();
        case 'close': return close();
        default: return Promise.reject(new Error(`loadtest shard: unknown phase ${phase}`));
      }
    },
  };
}

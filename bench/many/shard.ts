// many's per-thread part: start clients one every --wait ms (interleaved across threads),
// each publishes at once and then every ~--pace s; observers subscribed to the topic time
// every delivery and check every client's stream.
import { connectAll, type ConnectPlan } from '../lib/connector.ts';
import { clientOptions, type ConnSettings } from '../lib/conn-settings.ts';
import type { LeanClient } from '../lib/client.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { PublishTemplate } from '../lib/packets.ts';
import { makePayload } from '../lib/payload.ts';
import { Activity, makeReceiver, waitUntil } from '../lib/receiver.ts';
import { StreamSet, sumCounts, type StreamCounts } from '../lib/tracker.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import type { Shard, ShardContext } from '../lib/shards.ts';

export interface ManyInit {
  conn: ConnSettings;
  /** Clients in the whole run; 0 = no end. */
  clients: number;
  waitMs: number;
  paceMs: number;
  topic: string;
  payload: string;
  /** Observers this thread runs. */
  observers: number;
  connectConcurrency: number;
}

export interface ObserveResult {
  connected: number;
  firstFailure: { code: string; message: string } | null;
}

export interface RampResult {
  connected: number;
  failures: Record<string, number>;
  firstFailure: { code: string; message: string } | null;
  /** Why the ramp ended before its last client: a local limit code, 'ALL_FAILED', 'stopped'; null when complete. */
  endedBy: string | null;
  endMs: number;
}

export interface StopResult {
  sent: number;
  held: number;
  dropped: number;
}

export interface DrainResult extends StreamCounts {
  histogram: string;
  foreign: number;
  lastDeliveryMs: number;
}

interface Member {
  client: LeanClient;
  id: number;
  seq: number;
  timer: NodeJS.Timeout | null;
}

export function createShard(initRaw: unknown, ctx: ShardContext): Shard {
  const init = initRaw as ManyInit;
  const c = init.conn;
  const tpl = new PublishTemplate(init.topic, makePayload(c.payloadSize, 0, init.payload), c.qos, c.level);
  const members: Member[] = [];
  const observers: LeanClient[] = [];
  const observerStreams: StreamSet[] = [];
  const latency = new LatencyRecorder();
  const activity = new Activity();
  let stopped = false;
  let sent = 0;
  let dropped = 0;
  let held = 0;
  let failed = 0;

  async function observe(): Promise<ObserveResult> {
    const plans: ConnectPlan[] = Array.from({ length: init.observers }, (_, k) => ({
      options: clientOptions(c, `observer${ctx.index}.${k}`, k),
      topics: [init.topic],
    }));
    const out = await connectAll(plans, { concurrency: init.connectConcurrency, subQos: c.subQos, stopOnFailure: true });
    for (const cl of out.clients) {
      if (cl === null) continue;
      const streams = new StreamSet();
      cl.onMessage = makeReceiver(cl, streams, latency, activity);
      observers.push(cl);
      observerStreams.push(streams);
    }
    return { connected: out.connected, firstFailure: out.firstFailure };
  }

  function publish(m: Member): void {
    m.timer = null;
    if (stopped || m.client.closed) return;
    if (m.client.publishOne(tpl, m.seq, nowMs(), m.id)) {
      m.seq++;
      sent++;
    }
    // Uniform in ±25% around the pace, like the seed, so clients do not publish in step.
    m.timer = setTimeout(publish, init.paceMs * (0.75 + Math.random() * 0.5), m);
  }

  function* plans(): Generator<ConnectPlan> {
    for (let local = 0; ; local++) {
      const global = ctx.index + local * ctx.count;
      if (init.clients > 0 && global >= init.clients) return;
      yield { options: clientOptions(c, `many${global}`, global), topics: [] };
    }
  }

  async function ramp(t0: number): Promise<RampResult> {
    let endedBy: string | null = null;
    const out = await connectAll(plans(), {
      concurrency: init.connectConcurrency,
      subQos: c.subQos,
      stopOnFailure: false,
      shouldStop: () => stopped || endedBy !== null,
      // Thread t starts global clients t, t+T, t+2T...: one every --wait ms over the run.
      beforeEach: async (local) => {
        const due = t0 + (ctx.index + local * ctx.count) * init.waitMs;
        const wait = due - nowMs();
        if (wait > 0) await sleep(wait);
        return !stopped && endedBy === null;
      },
      onConnected: (client, index) => {
        const m: Member = { client, id: ctx.index + index * ctx.count, seq: 0, timer: null };
        members.push(m);
        held++;
        client.onClose = () => { held--; dropped++; if (m.timer !== null) clearTimeout(m.timer); };
        if (!stopped) publish(m);
      },
      onProgress: (connected, f) => {
        failed = f;
        ctx.progress({ connected: held, failed });
        // Nobody listening: keep no-end runs from retrying forever.
        if (connected === 0 && f >= 10) endedBy ??= 'ALL_FAILED';
      },
    });
    if (out.limitHit !== null) endedBy = out.limitHit;
    if (stopped) endedBy ??= 'stopped';
    return { connected: out.connected, failures: out.failures, firstFailure: out.firstFailure, endedBy, endMs: nowMs() };
  }

  function stop(): StopResult {
    stopped = true;
    for (const m of members) {
      if (m.timer !== null) clearTimeout(m.timer);
      m.timer = null;
    }
    return { sent, held, dropped };
  }

  async function drain(expectedPerObserver: number): Promise<DrainResult> {
    await waitUntil(() => observerStreams.every((s, k) => s.unique >= expectedPerObserver || observers[k].closed), activity, c.timeoutMs);
    return { ...sumCounts(observerStreams), histogram: latency.encode(), foreign: activity.foreign, lastDeliveryMs: activity.lastDeliveryMs };
  }

  async function close(): Promise<void> {
    const all = [...members.map((m) => m.client), ...observers];
    // Bounded batches: 100k simultaneous DISCONNECT timers would only add noise.
    for (let i = 0; i < all.length; i += 1000) {
      await Promise.all(all.slice(i, i + 1000).map((cl) => cl.disconnect(Math.min(c.timeoutMs, 2000))));
    }
  }

  return {
    call(phase, arg) {
      switch (phase) {
        case 'observe': return observe();
        case 'ramp': return ramp(arg as number);
        case 'stop': return Promise.resolve(stop());
        case 'drain': return drain(arg as number);
        case 'close': return close();
        default: return Promise.reject(new Error(`many shard: unknown phase ${phase}`));
      }
    },
  };
}

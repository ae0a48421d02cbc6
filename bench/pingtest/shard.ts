// pingtest's per-thread part. Pair i: the replier subscribes pingtest/<i>/request and echoes
// each request's payload (sequence and send time) on pingtest/<i>/reply; the pinger sends
// one request at a time and times the round trip. Wildcard subscribers on pingtest/0/# live
// with pair 0 in thread 0, so they know exactly how much pair 0 sent.
import { connectAll, type ConnectPlan } from '../lib/connector.ts';
import { clientOptions, type ConnSettings } from '../lib/conn-settings.ts';
import type { LeanClient } from '../lib/client.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { PublishTemplate } from '../lib/packets.ts';
import { HEADER_SIZE, PUBLISHER_OFFSET, SEQ_OFFSET, TIME_OFFSET, makePayload } from '../lib/payload.ts';
import { Pacer } from '../lib/pacer.ts';
import { Activity, makeReceiver, waitUntil } from '../lib/receiver.ts';
import { StreamSet, sumCounts, type StreamCounts } from '../lib/tracker.ts';
import { nowMs } from '../lib/clock.ts';
import type { Shard, ShardContext } from '../lib/shards.ts';

export interface PingInit {
  conn: ConnSettings;
  pairs: number[];
  /** Wildcard subscribers in this thread (all in thread 0, beside pair 0). */
  wsubs: number;
  messages: number;
  /** Round trips/s for each pinger; 0 = unpaced. */
  ratePerPinger: number;
  connectConcurrency: number;
}

import type { ConnectResult as PingConnectResult } from '../lib/connect-phase.ts';
export type { PingConnectResult };

export interface PingRunResult extends StreamCounts {
  sent: number;
  roundTrips: number;
  aborted: number;
  startMs: number;
  endMs: number;
  histogram: string;
  foreign: number;
}

interface Pinger {
  pair: number;
  client: LeanClient;
  tpl: PublishTemplate;
  pacer: Pacer | null;
  /** Sequence number of the request awaiting its reply, or -1. */
  outstanding: number;
  nextSeq: number;
  lastSendMs: number;
  completed: number;
  done: boolean;
  aborted: boolean;
  doneMs: number;
}

export function createShard(initRaw: unknown, ctx: ShardContext): Shard {
  const init = initRaw as PingInit;
  const c = init.conn;
  const n = init.pairs.length;
  const pingers: Pinger[] = [];
  const repliers: (LeanClient | null)[] = [];
  const wsubs: (LeanClient | null)[] = [];
  const pingerStreams = init.pairs.map(() => new StreamSet());
  const replierStreams = init.pairs.map(() => new StreamSet());
  const wsubStreams = Array.from({ length: init.wsubs }, () => new StreamSet());
  const rtt = new LatencyRecorder();
  const activity = new Activity();
  let sent = 0;
  let pair0Sent = 0;
  let allDone: (() => void) | null = null;

  async function connect(): Promise<PingConnectResult> {
    const plans: ConnectPlan[] = [];
    for (const i of init.pairs) plans.push({ options: clientOptions(c, `reply${i}`, 2 * i), topics: [`pingtest/${i}/request`] });
    for (const i of init.pairs) plans.push({ options: clientOptions(c, `ping${i}`, 2 * i + 1), topics: [`pingtest/${i}/reply`] });
    for (let w = 0; w < init.wsubs; w++) plans.push({ options: clientOptions(c, `wsub${w}`, 2 * 1e6 + w), topics: ['pingtest/0/#'] });
    const out = await connectAll(plans, {
      concurrency: init.connectConcurrency,
      subQos: c.subQos,
      stopOnFailure: true,
      onProgress: (connected, failed) => ctx.progress({ connected, failed }),
    });
    repliers.push(...out.clients.slice(0, n));
    wsubs.push(...out.clients.slice(2 * n));
    init.pairs.forEach((i, k) => {
      const replier = repliers[k];
      const pingerClient = out.clients[n + k];
      if (replier !== null) setUpReplier(replier, i, k);
      if (pingerClient !== null) pingers.push(setUpPinger(pingerClient, i, k));
    });
    wsubs.forEach((w, k) => { if (w !== null) w.onMessage = makeReceiver(w, wsubStreams[k], null, activity); });
    return { connected: out.connected, failures: out.failures, firstFailure: out.firstFailure };
  }

  function setUpReplier(client: LeanClient, i: number, k: number): void {
    const tpl = new PublishTemplate(`pingtest/${i}/reply`, makePayload(c.payloadSize, 2 * i + 1, 'pingtest reply'), c.qos, c.level);
    const see = makeReceiver(client, replierStreams[k], null, activity);
    client.onMessage = (buf, off, len) => {
      see(buf, off, len);
      if (len < HEADER_SIZE) return;
      // The reply carries the request's sequence and send time: the seed answered 'ok'.
      if (client.publishOne(tpl, buf.readUInt32BE(off + SEQ_OFFSET), buf.readDoubleBE(off + TIME_OFFSET))) {
        sent++;
        if (i === 0) pair0Sent++;
      }
    };
  }

  function setUpPinger(client: LeanClient, i: number, k: number): Pinger {
    const p: Pinger = {
      pair: i,
      client,
      tpl: new PublishTemplate(`pingtest/${i}/request`, makePayload(c.payloadSize, 2 * i, 'pingtest request'), c.qos, c.level),
      pacer: init.ratePerPinger > 0 ? new Pacer(init.ratePerPinger) : null,
      outstanding: -1, nextSeq: 0, lastSendMs: 0, completed: 0, done: false, aborted: false, doneMs: 0,
    };
    const streams = pingerStreams[k];
    client.onMessage = (buf, off, len) => {
      const now = client.chunkTimeMs;
      activity.lastMs = now;
      activity.lastDeliveryMs = now;
      if (len < HEADER_SIZE) { activity.foreign++; return; }
      const seq = buf.readUInt32BE(off + SEQ_OFFSET);
      streams.see(buf.readUInt32BE(off + PUBLISHER_OFFSET), seq);
      if (seq !== p.outstanding || p.done) return;
      rtt.recordMs(now - buf.readDoubleBE(off + TIME_OFFSET));
      p.outstanding = -1;
      p.completed++;
      if (p.completed >= init.messages) finish(p, false);
      else sendPing(p);
    };
    return p;
  }

  function sendPing(p: Pinger): void {
    if (p.done) return;
    if (p.pacer !== null && p.pacer.take(1) === 0) {
      setTimeout(() => sendPing(p), p.pacer.waitMs());
      return;
    }
    const seq = p.nextSeq;
    p.lastSendMs = nowMs();
    if (!p.client.publishOne(p.tpl, seq, p.lastSendMs)) return finish(p, true);
    p.outstanding = seq;
    p.nextSeq++;
    sent++;
    if (p.pair === 0) pair0Sent++;
  }

  function finish(p: Pinger, aborted: boolean): void {
    if (p.done) return;
    p.done = true;
    p.aborted = aborted;
    p.doneMs = nowMs();
    if (pingers.every((q) => q.done)) allDone?.();
  }

  async function run(): Promise<PingRunResult> {
    const startMs = nowMs();
    activity.lastMs = startMs;
    if (pingers.length > 0) {
      const finished = new Promise<void>((resolve) => { allDone = resolve; });
      // A lost request or reply ends its pair after --timeout of silence: counted, not hung on.
      const watchdog = setInterval(() => {
        const now = nowMs();
        for (const p of pingers) {
          if (!p.done && (p.client.closed || (p.outstanding >= 0 && now - p.lastSendMs > c.timeoutMs))) finish(p, true);
        }
      }, Math.min(100, c.timeoutMs / 4));
      for (const p of pingers) sendPing(p);
      await finished;
      clearInterval(watchdog);
    }
    const endMs = pingers.length > 0 ? Math.max(...pingers.map((p) => p.doneMs)) : startMs;
    // Each wildcard subscriber sees pair 0's requests and replies.
    if (wsubs.length > 0) {
      await waitUntil(() => wsubStreams.every((s, k) => s.unique >= pair0Sent || wsubs[k] === null || wsubs[k].closed), activity, c.timeoutMs);
    }
    const counts = sumCounts([...pingerStreams, ...replierStreams, ...wsubStreams]);
    return {
      ...counts,
      sent,
      roundTrips: pingers.reduce((a, p) => a + p.completed, 0),
      aborted: pingers.filter((p) => p.aborted).length,
      startMs,
      endMs,
      histogram: rtt.encode(),
      foreign: activity.foreign,
    };
  }

  async function close(): Promise<void> {
    await Promise.all([...repliers, ...pingers.map((p) => p.client), ...wsubs].map((cl) => cl?.disconnect(c.timeoutMs)));
  }

  return {
    call(phase) {
      switch (phase) {
        case 'connect': return connect();
        case 'run': return run();
        case 'close': return close();
        default: return Promise.reject(new Error(`pingtest shard: unknown phase ${phase}`));
      }
    },
  };
}

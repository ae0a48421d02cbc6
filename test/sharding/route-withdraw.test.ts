// Withdrawn routes on a real broker (src/worker/routing/withdraw.ts): a subscriber that stopped
// reading, on another shard than its publisher, has its route withdrawn once its queue is full
// (its publisher's shard stops writing those messages into the ring and counts the drops), and
// the route comes back the moment it matters: when the subscriber reads again, when another
// client subscribes to the same filter there (before its SUBACK), and never for a QoS class it
// would still queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, type Received } from '../helpers/raw.ts';
import { collect, connect, end, eventually, publish, subscribe, uid, type MqttClient } from '../helpers/clients.ts';
import { request, scrape } from '../admin/helpers.ts';

// A queue bound (2,000 × 1 KiB) above the 1 MiB mark, so the stalled subscriber is waited for, then judged slow.
const h = useBroker({ shards: 2, extraArgs: ['--max-queued-messages', '2000', '--max-queued-qos0', '50', '--max-client-backlog', String(1 << 20), '--http-port', '0', '--log-level', 'warn'] });
const PAYLOAD = Buffer.alloc(1024, 0x61);

async function shardOf(clientId: string): Promise<number> {
  const a = await request(`${h.broker.urls.http!}/api/v1/mqtt/clients/${encodeURIComponent(clientId)}`);
  assert.equal(a.status, 200, a.text);
  return (a.json() as { shard: number }).shard;
}

const metric = async (name: string, shard: number): Promise<number> => (await scrape(h.broker.urls.http!)).value(name, { shard: String(shard) });

interface Scene {
  topic: string;
  stalled: RawClient;
  pub: MqttClient;
  /** Publishes one QoS 1 message on <topic>/trickle every 100 ms, so the withdraw keeps being renewed. */
  trickle(): void;
  close(): Promise<void>;
}

/**
 * A QoS `qos` subscriber on <topic>/# on shard 0 that stopped reading, and a publisher on shard 1
 * that flooded it with QoS 1 until shard 0 withdrew the route.
 */
async function withdrawnScene(qos: 0 | 1): Promise<Scene> {
  await eventually(async () => (await scrape(h.broker.urls.http!)).sum('shoal_connections') === 0, 5000, 'the previous scene gone');
  const topic = uid('wd');
  const stalledId = uid('stalled');
  const stalled = (await RawClient.connect(h.port, { version: 4, clientId: stalledId })).c;
  await stalled.subscribe(`${topic}/#`, qos);
  stalled.pause();
  const pubId = uid('pub');
  const pub = await connect(h.url, { clientId: pubId });
  // Least-loaded placement (the tests' --accept main): shard 0, then shard 1.
  assert.deepEqual([await shardOf(stalledId), await shardOf(pubId)], [0, 1], 'the stalled subscriber and the publisher on different shards');
  try {
    const floods: Promise<unknown>[] = [];
    for (let i = 0; i < 6000; i++) floods.push(publish(pub, `${topic}/flood`, PAYLOAD, { qos: 1 }, 30_000));
    await Promise.all(floods);
    await eventually(async () => await metric('shoal_routes_withdrawn', 0) === 1, 10_000, 'the route withdrawn by the stalled subscriber\'s shard');
  } catch (e) {
    stalled.destroy();
    await end(pub);
    throw e;
  }
  let timer: NodeJS.Timeout | null = null;
  return {
    topic, stalled, pub,
    trickle: () => { timer = setInterval(() => { pub.publish(`${topic}/trickle`, PAYLOAD, { qos: 1 }); }, 100); },
    close: async () => { if (timer !== null) clearInterval(timer); stalled.destroy(); await end(pub); },
  };
}

/** Reads on and acknowledges every QoS 1 PUBLISH; the topics it got. */
function readOn(c: RawClient): { topics: string[]; stop(): void } {
  let on = true;
  const topics: string[] = [];
  c.socket.resume();
  void (async () => {
    while (on) {
      let f;
      try { f = await c.next(60_000); } catch { return; }
      if (f.cmd !== 'publish') continue;
      topics.push((f as Received & { topic: string }).topic);
      await c.ack(f as Received).catch(() => {});
    }
  })();
  return { topics, stop: () => { on = false; } };
}

const markers = async (pub: MqttClient, topic: string, n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await publish(pub, `${topic}/marker/${i}`, PAYLOAD, { qos: 1 });
};

test('a stalled subscriber\'s route is withdrawn past its bound, and sent again as soon as it reads: what is published after that arrives', { timeout: 60_000 }, async () => {
  const sc = await withdrawnScene(1);
  try {
    sc.trickle();
    assert.ok(await metric('shoal_forwards_skipped_total', 1) > 0, 'the publisher\'s shard skipped messages for the withdrawn route');
    const r = readOn(sc.stalled);
    // Its first acknowledgement makes room in its queue: the route is sent again at once
    // (not after the lease: the trickle keeps renewing it while it stays withdrawn).
    await eventually(async () => await metric('shoal_routes_withdrawn', 0) === 0, 2000, 'the route sent again once the subscriber reads');
    await eventually(async () => await metric('shoal_queued_messages', 0) === 0, 10_000, 'its queue drained');
    const skipped = await metric('shoal_forwards_skipped_total', 1);
    await markers(sc.pub, sc.topic, 20);
    await eventually(() => r.topics.filter((t) => t.includes('/marker/')).length === 20, 5000, 'all 20 markers published after it caught up');
    assert.equal(await metric('shoal_forwards_skipped_total', 1), skipped, 'nothing skipped once it reads');
    r.stop();
  } finally {
    await sc.close();
  }
});

test('a client that subscribes to a withdrawn filter gets every message published after its SUBACK', { timeout: 60_000 }, async () => {
  const sc = await withdrawnScene(1);
  let late: MqttClient | undefined;
  try {
    sc.trickle();
    const lateId = uid('late');
    late = await connect(h.url, { clientId: lateId });
    assert.equal(await shardOf(lateId), 0, 'on the withdrawn route\'s shard (least loaded: a tie goes to shard 0)');
    const got = collect(late, (t) => t.includes('/marker/'));
    await subscribe(late, `${sc.topic}/#`, { qos: 1 });
    await markers(sc.pub, sc.topic, 20);
    await got.waitFor(20, 5000);
    assert.equal(await metric('shoal_routes_withdrawn', 0), 0, 'a filter with a subscriber that takes messages is not withdrawn');
  } finally {
    await end(late);
    await sc.close();
  }
});

test('a QoS 1/2 withdraw leaves QoS 0 to a QoS 1 subscriber that still queues it', { timeout: 60_000 }, async () => {
  const sc = await withdrawnScene(1);
  try {
    const queued = await metric('shoal_queued_messages', 0);
    const skipped = await metric('shoal_forwards_skipped_total', 1);
    const dropped = await metric('shoal_messages_dropped_total', 1);
    // Its queue is full of QoS 1; --max-queued-qos0 50 still takes QoS 0.
    for (let i = 0; i < 10; i++) await publish(sc.pub, `${sc.topic}/q0/${i}`, PAYLOAD, { qos: 0 });
    await eventually(async () => await metric('shoal_queued_messages', 0) === queued + 10, 5000, 'the 10 QoS 0 messages queued for it');
    assert.equal(await metric('shoal_forwards_skipped_total', 1), skipped, 'none of them skipped');
    assert.equal(await metric('shoal_messages_dropped_total', 1), dropped, 'none of them counted as dropped');
    // QoS 1 is still withdrawn: skipped, and counted as dropped at the queue bound.
    await publish(sc.pub, `${sc.topic}/q1`, PAYLOAD, { qos: 1 });
    assert.equal(await metric('shoal_forwards_skipped_total', 1), skipped + 1);
    assert.equal(await metric('shoal_messages_dropped_total', 1), dropped + 1);
  } finally {
    await sc.close();
  }
});

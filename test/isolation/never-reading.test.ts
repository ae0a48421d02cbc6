// A client that subscribes and then never reads: its queue stays bounded (QoS 0 dropped past
// the backlog and the QoS 0 queue, QoS 1 queued up to --max-queued-bytes and then dropped),
// the broker's memory does not follow the flood, and the publisher and a healthy subscriber
// on the same topics get everything at their own pace. When it goes, its memory goes too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish } from '../helpers/raw.ts';
import { collect, connect, end, eventually, sleep, subscribe, uid } from '../helpers/clients.ts';
import { mib, probeMs, rssBytes } from './helpers.ts';
import { scrape } from '../admin/helpers.ts';

const MESSAGES = 40_000;
const PAYLOAD = Buffer.alloc(4096, 0x61); // 156 MiB in all, per subscriber: 312 MiB if nothing were bounded
const QUEUE_BYTES = 8 << 20;
const BACKLOG = 2 << 20;
const QOS0_QUEUE = 500;

for (const shards of [1, 2]) {
  const h = useBroker({ shards, extraArgs: ['--max-queued-bytes', String(QUEUE_BYTES), '--max-client-backlog', String(BACKLOG), '--max-queued-qos0', String(QOS0_QUEUE), '--http-port', '0', '--log-level', 'warn'] });

  test(`a client that never reads: bounded for it, nothing lost or held for the others (${shards} shard${shards > 1 ? 's' : ''})`, async (t) => {
    const topic = uid('nr');
    // Two that never read (QoS 0 and QoS 1) and one healthy subscriber, all on the topic.
    const stalled = await Promise.all([0, 1].map(async (qos) => {
      const { c } = await RawClient.connect(h.port, { version: 4, clientId: uid(`stalled${qos}`) });
      await c.subscribe(`${topic}/#`, qos);
      c.socket.pause();
      return c;
    }));
    const healthy = await connect(h.url, { version: 4 });
    const col = collect(healthy);
    await subscribe(healthy, `${topic}/#`, { qos: 1 });
    const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('pub') });
    const rss0 = rssBytes(h.broker.pid);
    let peak = rss0;
    const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(h.broker.pid)); }, 50);
    const t0 = performance.now();
    const batch = 100;
    for (let i = 0; i < MESSAGES; i += batch) {
      const b = Buffer.concat(Array.from({ length: batch }, (_, k) => buildPublish({ version: 4, topic: `${topic}/d`, payload: PAYLOAD, qos: 1, id: ((i + k) % 65535) + 1 })));
      await pub.write(b);
      // 100 messages per 10 ms at most: a publisher the healthy subscriber (MQTT.js, in this
      // process) can keep up with, so that what is measured is the stalled pair's cost.
      await sleep(10);
    }
    // Every PUBACK comes back, and the healthy subscriber gets (and acks) every message.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (pub.log.filter((f) => f.cmd === 'puback').length >= MESSAGES && col.messages.length >= MESSAGES) break;
      await sleep(20);
    }
    const got = col.messages.length;
    const ms = performance.now() - t0;
    clearInterval(sampler);
    const acks = pub.log.filter((f) => f.cmd === 'puback').length;
    const probe = await probeMs(h.url, 2000);
    const admin = h.broker.urls.http!;
    const m = await scrape(admin);
    const droppedQos0 = m.value('shoal_messages_dropped_total', { cause: 'slow_client_qos0' });
    const droppedFull = m.value('shoal_messages_dropped_total', { cause: 'queue_full' });
    const queuedBytes = m.sum('shoal_queued_bytes');
    t.diagnostic(`${acks} acks, healthy got ${got} of ${MESSAGES} in ${ms.toFixed(0)} ms (${(MESSAGES / ms * 1000).toFixed(0)}/s); ${mib(MESSAGES * PAYLOAD.length)} MiB offered to each; queued for the stalled pair ${mib(queuedBytes)} MiB, dropped ${droppedQos0} QoS 0 and ${droppedFull} QoS 1 (queue full); broker RSS peak +${mib(peak - rss0)} MiB; probe ${probe.toFixed(0)} ms`);
    assert.equal(acks, MESSAGES, 'the publisher got every PUBACK');
    assert.equal(got, MESSAGES, 'the healthy subscriber got every message');
    // Bounded for them: the QoS 1 queue up to --max-queued-bytes, QoS 0 up to its queue; the rest dropped and counted.
    // (The gauge is sampled: it may also hold what the healthy subscriber had queued, up to a
    // socket's worth, --socket-high-water, before the publisher waits for it.)
    assert.ok(queuedBytes <= QUEUE_BYTES + QOS0_QUEUE * (PAYLOAD.length + 64) + (2 << 20), `${mib(queuedBytes)} MiB queued`);
    assert.ok(droppedQos0 > 0, 'QoS 0 dropped for the stalled QoS 0 subscriber');
    assert.ok(droppedFull > 0, 'QoS 1 dropped at the stalled QoS 1 subscriber\'s queue bound');
    assert.ok(peak - rss0 < 2 * (QUEUE_BYTES + BACKLOG) + (112 << 20), `RSS rose ${mib(peak - rss0)} MiB (garbage not yet collected included)`);
    // When they go, what was queued for them goes too.
    for (const c of stalled) c.destroy();
    await sleep(300);
    assert.equal((await scrape(admin)).sum('shoal_queued_messages'), 0);
    // The byte gauge is sampled by the shards' upkeep poll (every second or so).
    await eventually(async () => (await scrape(admin)).sum('shoal_queued_bytes') === 0, 8000, 'queued bytes back to 0');
    await end(healthy);
    pub.destroy();
  });
}

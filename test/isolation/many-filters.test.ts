// A client that subscribes to 100,000 filters (in SUBSCRIBEs of 1,000): every SUBACK comes,
// a message to one of its filters reaches it, other clients' round trips keep their deadline
// meanwhile, and once it has gone its filters no longer route (a publish to them reaches nobody).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, buildSubscribe } from '../helpers/raw.ts';
import { sleep, uid } from '../helpers/clients.ts';
import { ProbePair, probeMs, rssBytes, mib } from './helpers.ts';

const FILTERS = 100_000;
const PER_PACKET = 1000;

const h = useBroker({ shards: 2 });

test('a client with 100,000 filters: all acknowledged, routed, others unaffected, gone when it goes', async (t) => {
  const base = uid('many');
  const { c } = await RawClient.connect(h.port, { version: 4, clientId: uid('many') });
  const rss0 = rssBytes(h.broker.pid);
  // Clients already there keep their round trips; a new client's SUBACK waits for the route
  // updates queued before it (rings are FIFO), which is checked once at the end.
  const pair = await ProbePair.open(h.url);
  const probes: number[] = [];
  let subscribing = true;
  const prober = (async () => { while (subscribing) probes.push(await pair.ms(2000)); })();
  const t0 = performance.now();
  try {
    for (let p = 0; p < FILTERS / PER_PACKET; p++) {
      const filters = Array.from({ length: PER_PACKET }, (_, i) => ({ topic: `${base}/${p}/${i}/+`, options: 1 }));
      c.send(buildSubscribe({ version: 4, id: p + 1, filters }));
    }
    const subacks = new Set<number>();
    while (subacks.size < FILTERS / PER_PACKET) {
      const f = await c.waitFor('suback', 60_000);
      subacks.add((f as unknown as { messageId: number }).messageId);
    }
    const subMs = performance.now() - t0;
    subscribing = false;
    await prober;
    const rss1 = rssBytes(h.broker.pid);
    t.diagnostic(`${FILTERS} filters acknowledged in ${subMs.toFixed(0)} ms, RSS +${mib(rss1 - rss0)} MiB; ${probes.length} probe round trips meanwhile, slowest ${Math.max(...probes).toFixed(0)} ms`);
    assert.ok(probes.length === 0 || Math.max(...probes) < 2000);

    // Routed: a publish to the last filter reaches it.
    const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('pub') });
    pub.send(buildPublish({ version: 4, topic: `${base}/99/999/x`, payload: 'hit', qos: 0 }));
    const got = await c.waitFor('publish', 5000);
    assert.equal((got as unknown as { topic: string }).topic, `${base}/99/999/x`);

    // Gone with it: a new subscriber on the same topic gets the next message, the old one nothing.
    c.destroy();
    await sleep(500);
    const { c: watcher } = await RawClient.connect(h.port, { version: 4, clientId: uid('watch') });
    await watcher.subscribe(`${base}/#`, 0);
    pub.send(buildPublish({ version: 4, topic: `${base}/0/0/y`, payload: 'after', qos: 0 }));
    await watcher.waitFor('publish', 5000);
    watcher.destroy();
    pub.destroy();
    assert.ok(await probeMs(h.url, 2000) < 2000);
  } finally {
    subscribing = false;
    c.destroy();
    await pair.close();
  }
});

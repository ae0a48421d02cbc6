// Regression (issue #14's intermittent SUBACK stall; issue #12's isolation): a peer's ring held
// by one subscriber stalled other clients' SUBACK and UNSUBACK. Flow control stops draining
// the ring from a peer shard while a subscriber it feeds is behind, so that the publisher
// there waits; a subscriber behind but not slow (it takes more than the slow-client rate, less
// than the publisher sends) holds it for as long as it stays behind, and the ring drains at
// its pace. A persistent session's SUBACK and UNSUBACK went through the commit gate, whose
// groups leave strictly in order, so they waited behind every ack gated before them on the
// shard: the publisher's PUBACKs, which wait for commit-barrier answers sitting in the held
// ring. 13 s here, and on a loaded machine past MQTT.js's 5 s. A SUBACK or UNSUBACK depends
// only on this shard's commit of the session's subscriptions, and now waits for nothing else
// (durable/gate.ts `sendSubackGated`). Its route barrier sat in the held ring too, and gave up
// after 1 s: a route barrier is a control barrier now, answered at once by a held ring
// (peers.ts; the CONNACK's case: peer-ring-held-stalls-connack).
//
// Two shards, placed by least-loaded order: the slow subscriber on shard 0, the client that
// subscribes (its id homed on its own shard) and the publisher on shard 1.
// --slow-client-ms 2000 makes the slow-client rate 128 KiB/s, so a subscriber acknowledging
// 400 KiB/s of QoS 1 is behind (its window full, a socket's worth queued) and never slow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { connect, sleep, subscribe, uid, unsubscribe } from '../helpers/clients.ts';
import { flood, heldScene, idHomedOn } from './held-ring-clients.ts';

const h = useBroker({ shards: 2, persistence: 'fast', extraArgs: ['--slow-client-ms', '2000'] });

test('a peer ring held by one subscriber stalls SUBACK: a persistent session\'s SUBACK and UNSUBACK come while a subscriber that is behind holds a peer', async (t) => {
  const sc = await heldScene(h.port); // the slow subscriber: shard 0
  const base = sc.base;
  try {
    const x = await connect(h.url, { version: 5, clientId: idHomedOn(1, 2), clean: false, properties: { sessionExpiryInterval: 60 } } as never); // shard 1
    sc.clients.push(x);
    sc.clients.push(await connect(h.url, { version: 4 })); // shard 0: a filler, so the publisher goes to shard 1
    sc.pub = await flood(h.port, `${base}/data/x`, 4000); // shard 1
    // The ring from shard 1 to shard 0 fills while the slow subscriber is behind.
    await sleep(5000);
    const t1 = performance.now();
    await subscribe(x, `${base}/other/${uid()}`, { qos: 1 }, 20_000);
    const subackMs = performance.now() - t1;
    const t2 = performance.now();
    await unsubscribe(x, `${base}/other/none`, 20_000);
    const unsubackMs = performance.now() - t2;
    t.diagnostic(`SUBACK after ${Math.round(subackMs)} ms, UNSUBACK after ${Math.round(unsubackMs)} ms; the slow subscriber acknowledged ${sc.reader.acked()}`);
    // Its route barrier is answered through the held ring, not by its 1 s timeout.
    assert.ok(subackMs < 1000, `SUBACK took ${Math.round(subackMs)} ms`);
    assert.ok(unsubackMs < 4000, `UNSUBACK took ${Math.round(unsubackMs)} ms`);
  } finally {
    await sc.end();
  }
});

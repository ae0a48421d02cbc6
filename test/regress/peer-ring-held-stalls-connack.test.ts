// Regression (issue #12, control frames stuck behind a held ring): flow control stops draining
// the ring from a peer shard while a subscriber it feeds is behind, so that the publisher there
// waits. Every frame in that ring waited with the data, control frames too: a CONNECT that took
// over a session owned on the other shard sent its TAKEOVER into the held ring and got its
// CONNACK only once the slow subscriber had caught up (never, here: MQTT.js's timeout).
//
// Two shards, placed by least-loaded order (ties: the lower shard): the slow subscriber and the
// session to take over on shard 0; the publisher and the new connection, whose client id is
// homed on shard 1 (so its claim is answered there and the TAKEOVER crosses 1 → 0), on shard 1.
// --slow-client-ms 2000 makes the slow-client rate 128 KiB/s, so a subscriber acknowledging
// 400 KiB/s of QoS 1 is behind and never slow: it holds the ring from shard 1 for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { connect, connectClient, sleep } from '../helpers/clients.ts';
import { flood, heldScene, idHomedOn } from './held-ring-clients.ts';

const h = useBroker({ shards: 2, persistence: 'fast', extraArgs: ['--slow-client-ms', '2000'] });

test('a peer ring held by one subscriber stalls CONNACK: a CONNECT taking over a session on a shard whose ring from this shard is held gets its CONNACK within a bound', async (t) => {
  const sc = await heldScene(h.port); // the slow subscriber: shard 0
  try {
    const session = { version: 5, clientId: idHomedOn(1, 2), clean: false, properties: { sessionExpiryInterval: 60 } } as const;
    sc.clients.push(await connect(h.url, { version: 4 })); // shard 1: a filler
    sc.clients.push(await connect(h.url, session as never)); // shard 0: the session to take over
    sc.pub = await flood(h.port, `${sc.base}/data/x`, 4000); // shard 1
    sc.clients.push(await connect(h.url, { version: 4 })); // shard 0: a filler, so the takeover lands on shard 1
    // The ring from shard 1 to shard 0 fills while the slow subscriber is behind.
    await sleep(5000);
    const t0 = performance.now();
    const { client, connack } = await connectClient(h.url, { ...session, timeout: 20_000 } as never);
    const connackMs = performance.now() - t0;
    sc.clients.push(client);
    t.diagnostic(`CONNACK after ${Math.round(connackMs)} ms (session present: ${connack.sessionPresent}); the slow subscriber acknowledged ${sc.reader.acked()}`);
    assert.equal(connack.sessionPresent, true, 'the session was taken over, not started afresh');
    assert.ok(connackMs < 2000, `CONNACK took ${Math.round(connackMs)} ms`);
  } finally {
    await sc.end();
  }
});

// Regression (issue #12, a ring held past the park bound): a held peer ring used to be drained
// on, its control frames handled at once and its data copied aside, but only up to a bound (two
// rings' worth); past it the ring was not drained at all, and the control frames behind the data
// waited with it: a SUBSCRIBE's route barrier gave up after its 1 s timeout, and a CONNECT that
// took over a session on the other shard had its CONNACK when the slow subscriber caught up.
// Now control frames travel in a ring of their own beside the data ring (shared/ring/pair.ts),
// always drained, and a held data ring is simply not drained.
//
// The smallest rings (--ring-capacity 65536: 64 KiB each way, a 128 KiB park bound), six
// publishers writing 16 KiB QoS 1 messages (what is on its way when HOLD reaches them is past the
// bound), and a subscriber acknowledging 2 messages a second (32 KiB/s): past the bound, the old
// ring moved on only as fast as it, seconds per ring. Two shards, placed by least-loaded order (ties: the lower shard):
// the slow subscriber and the session to take over on shard 0; the publishers, the subscribing
// client and the new connection (client ids homed on shard 1, so the TAKEOVER crosses 1 → 0
// through the held ring) on shard 1. --slow-client-ms 30000 makes the slow-client rate 8.5 KiB/s:
// the subscriber is behind and never slow, so it holds the ring from shard 1 for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { connect, connectClient, sleep, subscribe, uid } from '../helpers/clients.ts';
import { flood, heldScene, idHomedOn } from './held-ring-clients.ts';

const PUBLISHERS = 6;
const ACKS_PER_SECOND = 2;
const h = useBroker({ shards: 2, persistence: 'fast', extraArgs: ['--slow-client-ms', '30000', '--ring-capacity', '65536'] });

test('a peer ring held past the old park bound: a SUBSCRIBE\'s SUBACK comes within 1 s (not by its barrier\'s timeout) and a cross-shard takeover\'s CONNACK within 2 s', async (t) => {
  const sc = await heldScene(h.port, ACKS_PER_SECOND); // the slow subscriber: shard 0
  const pubs: { stop: () => void }[] = [];
  try {
    sc.clients.push(await connect(h.url, { version: 4 })); // shard 1: a filler
    const session = { version: 5, clientId: idHomedOn(1, 2), clean: false, properties: { sessionExpiryInterval: 60 } } as const;
    sc.clients.push(await connect(h.url, session as never)); // shard 0: the session to take over
    const x = await connect(h.url, { version: 5, clientId: idHomedOn(1, 2) } as never); // shard 1: subscribes later
    sc.clients.push(x);
    for (let i = 0; i < PUBLISHERS; i++) {
      sc.clients.push(await connect(h.url, { version: 4 })); // shard 0: a filler
      pubs.push(await flood(h.port, `${sc.base}/data/x`, 100_000)); // shard 1
    }
    // The ring from shard 1 to shard 0 fills and is held while the slow subscriber is behind.
    await sleep(4000);
    const t1 = performance.now();
    await subscribe(x, `${sc.base}/other/${uid()}`, { qos: 1 }, 20_000);
    const subackMs = performance.now() - t1;
    sc.clients.push(await connect(h.url, { version: 4 })); // shard 0: a filler, so the takeover lands on shard 1
    const t2 = performance.now();
    const { client, connack } = await connectClient(h.url, { ...session, timeout: 30_000 } as never);
    const connackMs = performance.now() - t2;
    sc.clients.push(client);
    t.diagnostic(`SUBACK after ${Math.round(subackMs)} ms, takeover CONNACK after ${Math.round(connackMs)} ms; the slow subscriber acknowledged ${sc.reader.acked()}`);
    assert.equal(connack.sessionPresent, true, 'the session was taken over, not started afresh');
    // Under 1 s: answered through the held ring, not by the route barrier's 1 s timeout.
    assert.ok(subackMs < 1000, `SUBACK took ${Math.round(subackMs)} ms`);
    assert.ok(connackMs < 2000, `CONNACK took ${Math.round(connackMs)} ms`);
  } finally {
    for (const p of pubs) p.stop();
    await sc.end();
  }
});

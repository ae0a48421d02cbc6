// A subscriber that stops reading does not stall the broker.
// Its raw socket is paused (its TCP window fills) while a publisher floods its topic. The broker
// must keep serving everyone else with bounded latency, keep delivering the flood to a subscriber
// that does read, and stay alive with bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish } from '../helpers/raw.ts';
import { connect, collect, subscribe, publish, endAll, uid, sleep, roundTrip } from '../helpers/clients.ts';

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

const FLOOD_MS = 3000;
const PAYLOAD = Buffer.alloc(1024, 0x46);
const RATE = 8000;

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  test('a stalled subscriber does not stall the broker: bounded latency for others, flood reaches readers, broker alive', async (t) => {
    const topic = uid('flood');
    const pingTopic = uid('ping');
    const rss0 = rssMiB(h.broker.pid);

    // Two subscribers that stop reading: QoS 0 and QoS 1 (never acknowledges).
    const slow0 = (await RawClient.connect(h.port, { version, clientId: uid('slow0') })).c;
    await slow0.subscribe(topic, 0);
    const slow1 = (await RawClient.connect(h.port, { version, clientId: uid('slow1') })).c;
    await slow1.subscribe(topic, 1);
    slow0.pause();
    slow1.pause();

    // A subscriber that reads everything. Its subscription is QoS 1 so that the QoS 1 end
    // marker stays QoS 1: on a loaded CI machine this test process can fall far enough behind
    // to be declared slow, and then QoS 0 may be dropped for it, as designed.
    const fast = await connect(h.url, { version });
    const fastCol = collect(fast);
    await subscribe(fast, topic, { qos: 1 });

    // Ping pair on other topics.
    const pinger = await connect(h.url, { version });
    const ponger = await connect(h.url, { version });
    const pongs = collect(ponger);
    await subscribe(ponger, pingTopic, { qos: 0 });

    const flooder = (await RawClient.connect(h.port, { version, clientId: uid('flooder') })).c;
    try {
      let sent = 0;
      const stopAt = Date.now() + FLOOD_MS;
      const batch = Buffer.concat(Array.from({ length: 64 }, () => buildPublish({ version, topic, payload: PAYLOAD, qos: 0 })));
      const flood = (async () => {
        // Paced at ~RATE msg/s: far more than the stalled sockets can buffer (~25 MB in total),
        // without letting this test process's own CPU use dominate the latency it measures.
        const t0 = Date.now();
        while (Date.now() < stopAt && !flooder.closed) {
          await flooder.write(batch);
          sent += 64;
          const ahead = (sent / RATE) * 1000 - (Date.now() - t0);
          if (ahead > 0) await sleep(ahead);
        }
      })();

      let pings = 0;
      const pinging = (async () => {
        while (Date.now() < stopAt) {
          pinger.publish(pingTopic, String(Date.now()), { qos: 0 });
          pings++;
          await sleep(50);
        }
      })();

      await Promise.all([flood, pinging]);
      const received = await pongs.waitFor(pings, 5000).catch((e: Error) => { throw new Error(`ping messages lost or stuck (${pongs.messages.length}/${pings}): ${e.message}`); });
      const lat = received.map((m) => m.at - Number(m.payload.toString())).sort((a, b) => a - b);
      const p50 = lat[Math.floor(lat.length / 2)]!;
      const max = lat[lat.length - 1]!;
      t.diagnostic(`flood: ${sent} messages of ${PAYLOAD.length} B in ${FLOOD_MS} ms; pings: ${pings}, latency p50 ${p50} ms, max ${max} ms`);
      assert.ok(max < 1500, `max ping latency ${max} ms during the flood (p50 ${p50} ms, ${pings} pings, ${sent} flood messages)`);
      assert.ok(p50 < 250, `median ping latency ${p50} ms during the flood`);

      // The reading subscriber is not held back by the stalled ones: an end marker published
      // after the flood reaches it promptly.
      await publish(pinger, topic, 'END', { qos: 1 });
      await fastCol.waitFor(1, 10_000, (m) => m.payload.toString() === 'END');
      assert.ok(fastCol.messages.length > 1, `the reading subscriber got ${fastCol.messages.length - 1} of ${sent} flood messages`);

      assert.ok(h.broker.alive(), 'broker died under the flood');
      await roundTrip(h.url, version);
      const rss1 = rssMiB(h.broker.pid);
      t.diagnostic(`reading subscriber got ${fastCol.messages.length - 1} flood messages; broker RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB`);
      if (Number.isFinite(rss0) && Number.isFinite(rss1)) {
        assert.ok(rss1 - rss0 < 768, `broker RSS grew from ${rss0.toFixed(0)} to ${rss1.toFixed(0)} MiB`);
      }
    } finally {
      flooder.destroy();
      slow0.destroy();
      slow1.destroy();
      await endAll([fast, pinger, ponger]);
    }
    // After the stalled clients are gone the broker still serves new clients.
    await roundTrip(h.url, version);
  });
});

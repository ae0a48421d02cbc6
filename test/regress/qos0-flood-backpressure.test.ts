// A QoS 0 flood to a subscriber that reads, but in bursts (its socket congests again and
// again). The broker must hold the publisher back (backpressure) rather than drop: with a
// 16 KiB high-water mark and a 10-message QoS 0 queue the old bound lost most of this flood.
// Across shards the publisher is held back only when the ring is full; the subscriber's shard
// buffers up to --max-client-backlog for it (raised here above the flood's size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish } from '../helpers/raw.ts';
import { sleep, uid } from '../helpers/clients.ts';
import { parseReport, runTool } from '../bench/run-tool.ts';

const COUNT = 10_000;
const PAYLOAD = Buffer.alloc(2048, 0x51); // 20 MiB in all: more than the kernel's socket buffers hold

for (const shards of [1, 2]) {
  const h = useBroker({ shards, extraArgs: ['--socket-high-water', '16384', '--max-queued-qos0', '10', '--max-client-backlog', String(64 << 20)] });

  test(`QoS 0 flood to a bursty reader loses nothing (${shards} shard${shards > 1 ? 's' : ''})`, async (t) => {
    const topic = uid('bp');
    const sub = (await RawClient.connect(h.port, { version: 4, clientId: uid('sub') })).c;
    const pub = (await RawClient.connect(h.port, { version: 4, clientId: uid('pub') })).c;
    try {
      await sub.subscribe(topic, 0);
      let reading = true;
      const stutter = (async () => {
        // Read 50 ms, stall 150 ms: far slower than the flood, never stuck for long.
        while (reading) {
          await sleep(50);
          sub.socket.pause();
          await sleep(150);
          sub.socket.resume();
        }
      })();
      const batch = Buffer.concat(Array.from({ length: 100 }, () => buildPublish({ version: 4, topic, payload: PAYLOAD, qos: 0 })));
      const t0 = Date.now();
      for (let i = 0; i < COUNT / 100; i++) await pub.write(batch);
      const count = (): number => sub.log.reduce((n, f) => n + (f.cmd === 'publish' ? 1 : 0), 0);
      while (count() < COUNT && Date.now() - t0 < 30_000) await sleep(100);
      reading = false;
      await stutter;
      t.diagnostic(`${count()} of ${COUNT} received in ${Date.now() - t0} ms`);
      assert.equal(count(), COUNT);
    } finally {
      sub.destroy();
      pub.destroy();
    }
  });

  test(`seed loadtest shape: QoS 0 flat out, nothing lost (${shards} shard${shards > 1 ? 's' : ''})`, async () => {
    const run = await runTool('loadtest', ['--host', '127.0.0.1', '--port', String(h.port), '--json', '--threads', '1',
      '--conns', '20', '--messages', '10000'], 120_000);
    const r = parseReport(run.stdout);
    assert.equal(r.figures.lost, 0, run.stderr);
    assert.equal(run.code, 0, run.stderr);
  });
}

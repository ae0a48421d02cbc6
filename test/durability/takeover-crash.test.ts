// A persistent subscriber taken over from shard to shard while a QoS 1 stream flows to it, then
// SIGKILL and a restart on the same data directory: every message whose PUBACK reached the
// publisher reaches the session. While a session moves, its old shard forwards what is still on
// its way there to the new shard (moves.ts); a commit barrier answered by the old shard must
// cover the new shard's commit of what was forwarded (docs/durability.md, "Session moves").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { Client, Publisher, Subscriber, until } from '../helpers/durable-clients.ts';

const TOPIC = 'takeover/stream';

describe('SIGKILL while a persistent subscriber is taken over across shards under a QoS 1 stream (2 shards, durable)', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  for (const takeovers of [3, 4, 6, 9]) {
    test(`killed after ${takeovers} takeovers: every PUBACKed message reaches the moving session`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shoal-takeover-crash-'));
      const opts = { shards: 2, persistence: 'durable' as const, dataDir: dir };
      let b: Broker | undefined;
      const clients: Client[] = [];
      try {
        b = await startBroker(opts);
        const sub = new Subscriber(`tk-sub-${takeovers}`);
        await sub.connect(b.port);                                  // shard 0
        await sub.c!.subscribe('takeover/#', 1);
        const { c: pc } = await Client.connect(b.port, `tk-pub-${takeovers}`, { version: 5 }); // shard 1
        const { c: filler } = await Client.connect(b.port, `tk-fill-${takeovers}`);            // shard 0
        clients.push(pc, filler);
        const pub = new Publisher(pc, 1, 'q1', TOPIC);
        pub.start();
        await until(() => pub.acked.size >= 200, 20_000);
        // Placement by fewest live connections: each new connection of the subscriber lands on
        // the other shard than the one it takes the session from.
        for (let k = 0; k < takeovers; k++) {
          const old = sub.c!;
          // The last connection reads nothing: what reaches the session from then on survives
          // the kill only in the store, so a PUBACK given before its commit shows as a loss.
          if (k === takeovers - 1) sub.deaf = true;
          await sub.connect(b.port);
          clients.push(old);
          if (k === takeovers - 1) break;
          await until(() => old.closed, 2000);
          await new Promise((r) => setTimeout(r, 10 + (k % 3) * 10));
        }
        // Killed while the session is still moving: at the first PUBACK after the last CONNACK,
        // when the old shard's ghost is forwarding and the new shard's commit may be pending.
        const proc = b.proc;
        await new Promise<void>((res) => {
          const t = setTimeout(res, 2000);
          pub.onAck = () => { pub.onAck = () => {}; proc.kill('SIGKILL'); clearTimeout(t); res(); };
        });
        await b.kill('SIGKILL');
        await until(() => pc.closed, 5000);
        pub.stop();
        const acked = [...pub.acked];
        for (const c of clients) c.destroy();
        clients.length = 0;
        sub.c!.destroy();

        b = await startBroker(opts);
        sub.deaf = false;
        assert.equal(await sub.connect(b.port), true, 'the moving session is present after the restart');
        await until(() => acked.every((k) => sub.counts.has(k)), 15_000);
        const lost = acked.filter((k) => !sub.counts.has(k));
        assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.length} PUBACKed messages never reached the session; first ones`);
        sub.c!.destroy();
      } finally {
        for (const c of clients) c.destroy();
        if (b) await b.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

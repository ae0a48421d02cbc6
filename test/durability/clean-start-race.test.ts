// A client reconnects with clean start on another shard while its old shard is still writing
// messages queued for the offline session: the new owner's delete of the stored session must
// come after those writes, or they survive it and reappear in a later session of that client
// id after a restart (a stale queue). (docs/durability.md, "Clean start")
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { Client, onDataDir, Publisher, until } from '../helpers/durable-clients.ts';

const ROUNDS = 4;

describe('clean start on another shard while the old owner writes (2 shards, durable)', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  test(`no stale queue survives the clean start's delete (${ROUNDS} rounds, SIGKILL and restart each)`, () => onDataDir('shoal-clean-race-', async (dataDir, live) => {
    const opts = { shards: 2, persistence: 'durable' as const, dataDir };
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let b = live.b = await startBroker(opts);
      const id = `clean-race-${round}`;
      const topic = `cleanrace/${round}`;
      // The persistent session goes offline on shard 0; the publisher joins it there (fewest
      // live connections, ties: shard 0), so the clean start lands on shard 1.
      const { c: s0 } = await Client.connect(b.port, id, { clean: false });
      await s0.subscribe(topic, 1);
      s0.destroy();
      await until(() => s0.closed, 2000);
      await new Promise((r) => setTimeout(r, 300));
      const { c: pc } = await Client.connect(b.port, `clean-race-pub-${round}`);
      const pub = new Publisher(pc, 1, 'old', topic);
      pub.start();
      await until(() => pub.acked.size >= 300 + round * 200, 20_000);
      // Clean start while the stream still queues for the offline session on shard 0.
      const { c: fresh, present } = await Client.connect(b.port, id, { clean: true });
      if (present) problems.push(`round ${round}: Session Present 1 on a clean start`);
      await new Promise((r) => setTimeout(r, 100));
      pub.stop();
      fresh.send({ cmd: 'disconnect' });
      await until(() => fresh.closed, 2000);
      // A new persistent session for the id: it must start empty, now and after a restart.
      let got = 0;
      const count = (_c: Client, p: { cmd: string }): void => { if (p.cmd === 'publish') got++; };
      const { c: again } = await Client.connect(b.port, id, { clean: false, onPacket: count });
      await new Promise((r) => setTimeout(r, 300));
      again.destroy();
      pc.destroy();
      await new Promise((r) => setTimeout(r, 500)); // every write committed (durable)
      await b.kill('SIGKILL');
      b = live.b = await startBroker(opts);
      const { c: back } = await Client.connect(b.port, id, { clean: false, onPacket: count });
      await new Promise((r) => setTimeout(r, 700));
      if (got > 0) problems.push(`round ${round}: ${got} message(s) queued for the session before its clean start were delivered to the later session`);
      // Leave nothing behind for the next round.
      back.destroy();
      const { c: end } = await Client.connect(b.port, id, { clean: true });
      end.send({ cmd: 'disconnect' });
      await new Promise((r) => setTimeout(r, 300));
      end.destroy();
      await b.kill('SIGKILL');
    }
    assert.deepEqual(problems, []);
  }));
});

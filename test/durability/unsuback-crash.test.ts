// UNSUBACK of a persistent session leaves after the removal is committed: a SIGKILL right after
// the client got UNSUBACK must not bring the subscription back after a restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { Client, onDataDir } from '../helpers/durable-clients.ts';

const ROUNDS = 3;

describe('UNSUBACK after commit (durable)', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  for (const shards of [1, 2]) {
    test(`${shards} shard(s): SIGKILL at UNSUBACK, restart: the subscription stays gone (${ROUNDS} rounds)`, () => onDataDir('shoal-unsuback-', async (dataDir, live) => {
      const opts = { shards, persistence: 'durable' as const, dataDir };
      const problems: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const b = live.b = await startBroker(opts);
        const id = `unsub-${shards}-${round}`;
        const topic = `unsub/${round}`;
        const { c } = await Client.connect(b.port, id, { clean: false });
        await c.subscribe(topic, 1);
        await c.subscribe(`${topic}/keep`, 1); // the session keeps a subscription
        const unsuback = c.expect('unsuback');
        c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [topic] } as mqttPacket.IUnsubscribePacket);
        await unsuback;
        b.proc.kill('SIGKILL'); // at once: the removal must already be committed
        await b.kill('SIGKILL');
        c.destroy();

        const b2 = live.b = await startBroker(opts);
        const { c: p } = await Client.connect(b2.port, `unsub-pub-${shards}-${round}`);
        const puback = p.expect('puback');
        p.send({ cmd: 'publish', topic, payload: Buffer.from('after'), qos: 1, retain: false, dup: false, messageId: 1 } as mqttPacket.IPublishPacket);
        await puback;
        let got = 0;
        const { c: back, present } = await Client.connect(b2.port, id, { clean: false, onPacket: (_c, pk) => { if (pk.cmd === 'publish') got++; } });
        if (!present) problems.push(`round ${round}: session not present after the restart`);
        await new Promise((r) => setTimeout(r, 500));
        if (got > 0) problems.push(`round ${round}: the unsubscribed filter came back after the restart (${got} message(s) delivered)`);
        back.destroy();
        p.destroy();
        await b2.kill('SIGKILL');
      }
      assert.deepEqual(problems, []);
    }));
  }
});

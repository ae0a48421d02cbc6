// A shard *thread* that crashes (not the process) while messages forwarded to it for persistent
// sessions are not yet committed there: the publisher on another shard must not get PUBACK /
// PUBREC for them (it is disconnected instead and may resend). Every message it did get an ack
// for reaches both persistent subscribers of the crashed shard, online and offline, after they
// reconnect. (docs/durability.md, "A shard that crashes")
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { Client, Publisher, Subscriber, until } from '../helpers/durable-clients.ts';

const TOPIC = 'shardcrash/stream';

describe('shard thread crash under a QoS 1 + QoS 2 stream forwarded to it (2 shards, durable)', { skip: isMosquitto ? 'Shoal test hook' : undefined }, () => {
  for (const crashAfter of [100, 600]) {
    test(`crash after ${crashAfter} acks: a message acknowledged while its shard crashed uncommitted is not lost`, async () => {
      let b: Broker | undefined;
      const clients: Client[] = [];
      try {
        b = await startBroker({ shards: 2, persistence: 'durable', testHooks: true, extraArgs: ['--accept', 'main'] });
        // Placement is by fewest live connections (ties: shard 0). Both subscribers and the
        // crashing client on shard 0, the publishers on shard 1.
        const offline = new Subscriber(`sc-off-${crashAfter}`);
        await offline.connect(b.port);
        await offline.c!.subscribe('shardcrash/#', 2);
        offline.c!.destroy();
        await until(() => offline.c!.closed, 2000);
        await new Promise((r) => setTimeout(r, 300)); // the shard counts the close
        const online = new Subscriber(`sc-on-${crashAfter}`);
        await online.connect(b.port);                                                 // shard 0
        await online.c!.subscribe('shardcrash/#', 2);
        const { c: c1 } = await Client.connect(b.port, `sc-p1-${crashAfter}`, { version: 5 }); // shard 1
        const { c: crasher } = await Client.connect(b.port, `sc-x-${crashAfter}`);           // shard 0
        const { c: c2 } = await Client.connect(b.port, `sc-p2-${crashAfter}`);               // shard 1
        clients.push(c1, c2, crasher);
        const p1 = new Publisher(c1, 1, 'q1', TOPIC);
        const p2 = new Publisher(c2, 2, 'q2', TOPIC);
        p1.start();
        p2.start();
        assert.ok(await until(() => p1.acked.size >= crashAfter, 30_000), `only ${p1.acked.size} QoS 1 acks before the deadline`);
        crasher.send({ cmd: 'publish', topic: '$SHOAL/test/crash-shard', payload: Buffer.from('boom'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
        assert.ok(await until(() => online.c!.closed, 5000), 'the crashed shard\'s subscriber was not disconnected');
        // The publishers go on against the restarted shard for a while (unless disconnected).
        await new Promise((r) => setTimeout(r, 1500));
        p1.stop();
        p2.stop();
        await new Promise((r) => setTimeout(r, 500));
        const acked1 = [...p1.acked];
        const acked2 = [...p2.acked];
        assert.ok(b.alive(), 'the broker process died');

        const problems: string[] = [];
        if (!(await online.reconnect(b.port))) problems.push('online subscriber: Session Present 0 after the shard restart');
        if (!(await offline.reconnect(b.port))) problems.push('offline subscriber: Session Present 0 after the shard restart');
        const allThere = (s: Subscriber): boolean => acked1.every((k) => s.counts.has(k)) && acked2.every((k) => s.counts.has(k));
        await until(() => allThere(online) && allThere(offline), 20_000);
        for (const s of [online, offline]) {
          const lost1 = acked1.filter((k) => !s.counts.has(k));
          const lost2 = acked2.filter((k) => !s.counts.has(k));
          if (lost1.length) problems.push(`${s.clientId}: ${lost1.length}/${acked1.length} acknowledged QoS 1 messages lost, e.g. ${lost1.slice(0, 5).join(', ')}`);
          if (lost2.length) problems.push(`${s.clientId}: ${lost2.length}/${acked2.length} acknowledged QoS 2 messages lost, e.g. ${lost2.slice(0, 5).join(', ')}`);
        }
        assert.deepEqual(problems, [], `shard crash after ${crashAfter} QoS 1 acks (${acked1.length} QoS 1 and ${acked2.length} QoS 2 acknowledged; publishers closed: ${c1.closed}, ${c2.closed})`);
        online.c!.destroy();
        offline.c!.destroy();
      } finally {
        for (const c of clients) c.destroy();
        if (b) await b.kill('SIGKILL');
      }
    });
  }
});

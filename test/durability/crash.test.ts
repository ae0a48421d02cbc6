// Crash safety (issue #5): the broker is killed with SIGKILL in the middle of a QoS 1 and a
// QoS 2 stream, with persistent subscribers online and offline on different shards, then
// restarted on the same data directory. Every message whose PUBACK / PUBREC the publisher got
// must reach every subscriber: QoS 1 at least once, QoS 2 exactly once (counted the way a
// receiver does: a PUBLISH whose packet id awaits PUBREL is a duplicate, not a new message).
// The retained message and both sessions must be back too. Several kill points.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { Client, Publisher, Subscriber, until } from '../helpers/durable-clients.ts';

const KILL_POINTS = [40, 300, 1200]; // QoS 1 acks received before the SIGKILL
const TOPIC = 'crash/stream';

describe('crash safety: SIGKILL under a QoS 1 + QoS 2 stream, restart on the same data directory', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  for (const killAfter of KILL_POINTS) {
    test(`killed after ${killAfter} QoS 1 acks: every acknowledged message reaches every persistent subscriber`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shoal-crash-'));
      const opts = { shards: 2, persistence: 'durable' as const, dataDir: dir };
      let b: Broker | undefined;
      const clients: Client[] = [];
      try {
        b = await startBroker(opts);
        // Placement is by fewest live connections: the two subscribers land on different shards.
        const online = new Subscriber(`crash-on-${killAfter}`);
        const offline = new Subscriber(`crash-off-${killAfter}`);
        await online.connect(b.port);
        await offline.connect(b.port);
        await online.c!.subscribe('crash/#', 2);
        await offline.c!.subscribe('crash/#', 2);
        offline.c!.destroy();
        await until(() => offline.c!.closed, 2000);

        const { c: rp } = await Client.connect(b.port, 'crash-retainer', { version: 5 });
        clients.push(rp);
        const rack = rp.expect('puback');
        rp.send({ cmd: 'publish', topic: 'crash/retained', payload: Buffer.from('kept'), qos: 1, retain: true, dup: false, messageId: 1 } as mqttPacket.IPublishPacket);
        await rack;

        const { c: c1 } = await Client.connect(b.port, `crash-p1-${killAfter}`, { version: 5 });
        const { c: c2 } = await Client.connect(b.port, `crash-p2-${killAfter}`, { version: 4 });
        clients.push(c1, c2);
        const p1 = new Publisher(c1, 1, 'q1', TOPIC);
        const p2 = new Publisher(c2, 2, 'q2', TOPIC);
        p1.start();
        p2.start();
        assert.ok(await until(() => p1.acked.size >= killAfter, 30_000), `only ${p1.acked.size} QoS 1 acks before the deadline`);
        await b.kill('SIGKILL');
        // Acks the broker wrote before it died still arrive: read until the sockets close.
        await until(() => c1.closed && c2.closed, 5000);
        p1.stop();
        p2.stop();
        // What the publishers know now is final: nothing acknowledged after the kill counts.
        const acked1 = [...p1.acked];
        const acked2 = [...p2.acked];
        online.c!.destroy();
        for (const c of clients) c.destroy();
        clients.length = 0;

        b = await startBroker(opts);
        const problems: string[] = [];
        if (!(await online.connect(b.port))) problems.push('online subscriber: Session Present 0 after restart');
        if (!(await offline.connect(b.port))) problems.push('offline subscriber: Session Present 0 after restart');
        const allThere = (s: Subscriber): boolean => acked1.every((k) => s.counts.has(k)) && acked2.every((k) => s.counts.has(k));
        await until(() => allThere(online) && allThere(offline), 20_000);
        for (const s of [online, offline]) {
          const lost1 = acked1.filter((k) => !s.counts.has(k));
          const lost2 = acked2.filter((k) => !s.counts.has(k));
          const dup2 = [...s.counts].filter(([k, n]) => k.startsWith('q2-') && n > 1).map(([k]) => k);
          if (lost1.length) problems.push(`${s.clientId}: ${lost1.length}/${acked1.length} acknowledged QoS 1 messages lost, e.g. ${lost1.slice(0, 5).join(', ')}`);
          if (lost2.length) problems.push(`${s.clientId}: ${lost2.length}/${acked2.length} acknowledged QoS 2 messages lost, e.g. ${lost2.slice(0, 5).join(', ')}`);
          if (dup2.length) problems.push(`${s.clientId}: ${dup2.length} QoS 2 messages delivered more than once, e.g. ${dup2.slice(0, 5).join(', ')}`);
        }
        // The retained message is back.
        const { c: rs } = await Client.connect(b.port, 'crash-retained-check');
        clients.push(rs);
        const got = rs.expect('publish', 5000);
        await rs.subscribe('crash/retained', 1);
        try {
          const r = await got as mqttPacket.IPublishPacket;
          if (r.payload.toString() !== 'kept' || !r.retain) problems.push(`retained message changed: ${r.payload.toString()}`);
        } catch { problems.push('the retained message (PUBACKed before the kill) was lost'); }
        assert.deepEqual(problems, [], `kill after ${killAfter} QoS 1 acks (${acked1.length} QoS 1 and ${acked2.length} QoS 2 acknowledged)`);
        online.c!.destroy();
        offline.c!.destroy();
        assert.equal(await b.stop(), 0, 'graceful stop after the check');
      } finally {
        for (const c of clients) c.destroy();
        if (b) await b.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

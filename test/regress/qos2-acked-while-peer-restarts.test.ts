// A shard thread crashes while a publisher's shard is not scheduled (a loaded machine; CI lost 40
// acknowledged QoS 2 messages of test/durability/shard-crash this way, one publisher's window). Two
// windows in which the publisher's shard acked messages that its crashed peer never stored:
//
// - "before the restart is known": messages read in the same turn as main's news of the restart
//   went into the dead shard's ring; their commit barrier, sent at the end of that turn, went into
//   the fresh ring and the new incarnation answered it (it had never seen them).
// - "while the restarted shard starts": the new incarnation starts its stats row from zero, so the
//   publisher's shard, not yet told of the crash, read "no persistent sessions there" and
//   acknowledged at once what it put into the dead ring (told of it, it would also have kept none
//   of the old routes aside: routing.ts, stale routes).
//
// The hook $SHOAL/test/stall-shard blocks the publishers' shard meanwhile, so both happen every run.
// Either way an ack may be withheld (the publisher is disconnected, to resend); none may be lost.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { Client, Subscriber, until } from '../helpers/durable-clients.ts';
import { homeShard } from '../../src/worker/peers/frames.ts';

const TOPIC = 'peer-restarts/stream';
// Shorter than a restarted shard waits for its peers' ownership lists (registry.ts, 5 s): the
// new incarnation has booted but not yet loaded its sessions when the stall ends.
const STALL_MS = 4500;

/** A client id whose home is shard 0 (its session comes back there after the crash). */
function homedAtZero(prefix: string): string {
  for (let i = 0; ; i++) if (homeShard(`${prefix}-${i}`, 2) === 0) return `${prefix}-${i}`;
}

/** Sends `n` QoS 1 and `n` QoS 2 PUBLISHes at once (ids 1..2n); records what was acknowledged. */
function publishBurst(c: Client, prefix: string, n: number): Set<string> {
  const acked = new Set<string>();
  const keys = new Map<number, string>();
  c.onPacket = (p) => {
    if (p.cmd !== 'puback' && p.cmd !== 'pubrec') return;
    const key = keys.get(p.messageId!);
    if (key !== undefined && ((p as mqttPacket.IPubackPacket).reasonCode ?? 0) < 0x80) acked.add(key);
    if (p.cmd === 'pubrec') c.send({ cmd: 'pubrel', messageId: p.messageId! });
  };
  for (let i = 0; i < 2 * n; i++) {
    const qos = i % 2 === 0 ? 1 : 2;
    const key = `${prefix}-q${qos}-${i}`;
    keys.set(i + 1, key);
    c.send({ cmd: 'publish', topic: TOPIC, payload: Buffer.from(key), qos, retain: false, dup: false, messageId: i + 1 } as mqttPacket.IPublishPacket);
  }
  return acked;
}

describe('QoS 1/2 acknowledged while a peer shard restarts (2 shards, durable, publishers\' shard stalled)', { skip: isMosquitto ? 'Shoal test hooks' : undefined }, () => {
  for (const when of ['before the restart is known', 'while the restarted shard starts'] as const) {
    test(`published ${when}: nothing acknowledged is lost`, async () => {
      let b: Broker | undefined;
      const clients: Client[] = [];
      try {
        b = await startBroker({ shards: 2, persistence: 'durable', testHooks: true, extraArgs: ['--accept', 'main'] });
        // Placement is by fewest live connections (ties: shard 0): the persistent subscriber and
        // the crasher on shard 0, the publisher on shard 1 (a spare on shard 0 keeps it so).
        const sub = new Subscriber(homedAtZero('peer-restarts-sub'));
        await sub.connect(b.port);
        await sub.c!.subscribe('peer-restarts/#', 2);
        sub.c!.destroy();
        await until(() => sub.c!.closed, 2000);
        await new Promise((r) => setTimeout(r, 300)); // the shard counts the close
        const { c: crasher } = await Client.connect(b.port, 'peer-restarts-x');     // shard 0
        const { c: pub } = await Client.connect(b.port, 'peer-restarts-p');         // shard 1
        const { c: spare } = await Client.connect(b.port, 'peer-restarts-spare');   // shard 0
        clients.push(crasher, pub, spare);
        // The route works: a QoS 1 message to the offline session is acknowledged.
        const warm = publishBurst(pub, 'warm', 1);
        assert.ok(await until(() => warm.size === 2, 10_000), 'no acks before the crash');

        pub.send({ cmd: 'publish', topic: '$SHOAL/test/stall-shard', payload: Buffer.from(String(STALL_MS)), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
        await new Promise((r) => setTimeout(r, 300)); // shard 1 is stalled from here
        const stalledAt = Date.now();
        let acked: Set<string>;
        if (when === 'before the restart is known') {
          acked = publishBurst(pub, 'early', 20);   // read by shard 1 before main's news of the crash
          await new Promise((r) => setTimeout(r, 200));
          crasher.send({ cmd: 'publish', topic: '$SHOAL/test/crash-shard', payload: Buffer.from('boom'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
          assert.ok(await until(() => crasher.closed, 5000), 'shard 0 did not crash');
        } else {
          crasher.send({ cmd: 'publish', topic: '$SHOAL/test/crash-shard', payload: Buffer.from('boom'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
          assert.ok(await until(() => crasher.closed, 5000), 'shard 0 did not crash');
          // The new incarnation has started (its stats row reset) before shard 1 hears of the crash.
          assert.ok(await until(() => b!.stderr().includes('shard restarted'), STALL_MS - 1200), 'shard 0 did not restart within the stall');
          acked = publishBurst(pub, 'late', 20);
        }
        assert.ok(Date.now() - stalledAt < STALL_MS - 500, 'the scenario took longer than the stall: it tests nothing');
        // Past the stall: every message acknowledged, or the publisher disconnected (to resend).
        assert.ok(await until(() => acked.size === 40 || pub.closed, STALL_MS + 15_000), `only ${acked.size} acks and the publisher still connected`);
        await new Promise((r) => setTimeout(r, 300));

        assert.equal(await sub.reconnect(b.port), true, 'Session Present 0 after the shard restart');
        const keys = [...acked];
        await until(() => keys.every((k) => sub.counts.has(k)), 10_000);
        const lost = keys.filter((k) => !sub.counts.has(k));
        assert.deepEqual(lost, [], `${lost.length}/${keys.length} acknowledged messages lost (publisher closed: ${pub.closed})`);
        sub.c!.destroy();
      } finally {
        for (const c of clients) c.destroy();
        if (b) await b.kill('SIGKILL');
      }
    });
  }
});

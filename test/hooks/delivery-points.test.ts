// The delivery-side hook points fire on the shard they say with the arguments they say, at 1
// and 4 shards: onQosPublish (first send and the DUP resend of a resumed session), onDisconnect
// on a takeover, onQosDropped (a clean start discards an unacknowledged message), onPublishDropped
// (too large for the client, QoS 0 for an offline session) and onRetainedExpired (on the topic's
// home shard, and every shard's replica drops it). A broker embedded here with the recording hook
// (fixtures/recorder.ts), real MQTT.js clients over TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { createBroker } from '../../src/index.ts';
import { homeShard } from '../../src/worker/peers/frames.ts';
import { Collector, connect, eventually, sleep } from '../helpers/clients.ts';

const RECORDER = new URL('./fixtures/recorder.ts', import.meta.url).href;
interface Rec { point: string; on: number; shard?: number; clientId?: string; [k: string]: unknown }

/** A client that never acknowledges a QoS 1/2 PUBLISH (MQTT.js sends the PUBACK when handleMessage calls back). */
function neverAcks(c: MqttClient): MqttClient {
  (c as unknown as { handleMessage: (p: unknown, cb: () => void) => void }).handleMessage = () => {};
  return c;
}

for (const shards of [1, 4]) {
  test(`delivery hook points: onQosPublish, onDisconnect on a takeover, onQosDropped, onPublishDropped, onRetainedExpired (${shards} shard${shards > 1 ? 's' : ''})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-hooks-'));
    const file = join(dir, 'calls.jsonl');
    const broker = await createBroker({ host: '127.0.0.1', port: 0, shards, accept: 'main', persistence: 'memory', logLevel: 'warn', sysInterval: 0, httpPort: 0, httpHost: '127.0.0.1', hooks: [{ module: RECORDER, options: { file } }] });
    const recs = (): Rec[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec) : []);
    const by = (p: string, clientId?: string): Rec[] => recs().filter((r) => r.point === p && (clientId === undefined || r.clientId === clientId));
    const shardOf = async (id: string): Promise<number> => (await broker.client(id))!.shard;
    const persistent = { version: 5 as const, clean: false, properties: { sessionExpiryInterval: 60 } };
    try {
      await broker.listen();
      const url = `mqtt://127.0.0.1:${broker.address()!.port}`;
      const pub = await connect(url, { version: 5, clientId: 'p' });

      // onQosPublish on the subscriber's shard; the message stays unacknowledged.
      const holder = neverAcks(await connect(url, { ...persistent, clientId: 'holder' }));
      await holder.subscribeAsync('q/#', { qos: 1 });
      const holderShard = await shardOf('holder');
      await pub.publishAsync('q/1', 'one', { qos: 1 });
      await eventually(() => by('onQosPublish', 'holder').length === 1, 3000, 'onQosPublish of q/1');
      const first = by('onQosPublish', 'holder')[0]!;
      assert.deepEqual([first.topic, first.qos, first.resend, first.shard], ['q/1', 1, false, holderShard]);

      // A takeover that keeps the session: onDisconnect(expire, takeover) on the old connection's
      // shard; the resumed session resends with DUP (onQosPublish resend) on the new one, where
      // the client acknowledges it (onQosComplete).
      const again = await connect(url, { ...persistent, clientId: 'holder' });
      await eventually(() => by('onQosComplete', 'holder').length === 1, 3000, 'the resent q/1 acknowledged');
      const againShard = await shardOf('holder');
      const takeover = by('onDisconnect', 'holder');
      assert.equal(takeover.length, 1);
      assert.deepEqual([takeover[0]!.on, takeover[0]!.expire, takeover[0]!.takeover], [holderShard, true, true]);
      const resent = by('onQosPublish', 'holder')[1]!;
      assert.deepEqual([resent.topic, resent.packetId, resent.resend, resent.on], ['q/1', first.packetId, true, againShard]);
      holder.end(true);

      // QoS 0 for the offline session is dropped (onPublishDropped 'offline' on its shard).
      again.end(false);
      await eventually(() => by('onDisconnect', 'holder').length === 2, 3000, 'holder offline');
      await pub.publishAsync('q/2', 'zero', { qos: 0 });
      await eventually(() => by('onPublishDropped', 'holder').length === 1, 3000, 'onPublishDropped offline');
      assert.deepEqual((({ on, topic, qos, reason }) => ({ on, topic, qos, reason }))(by('onPublishDropped', 'holder')[0]!), { on: againShard, topic: 'q/2', qos: 0, reason: 'offline' });

      // A clean start takes over a session with a message in flight: onQosDropped for it and
      // onDisconnect(expire false, takeover) on the old session's shard.
      const dropper = neverAcks(await connect(url, { ...persistent, clientId: 'dropper' }));
      await dropper.subscribeAsync('qd/#', { qos: 1 });
      const dropperShard = await shardOf('dropper');
      await pub.publishAsync('qd/1', 'lost', { qos: 1 });
      await eventually(() => by('onQosPublish', 'dropper').length === 1, 3000, 'onQosPublish of qd/1');
      const fresh = await connect(url, { version: 5, clientId: 'dropper', clean: true });
      await eventually(() => by('onQosDropped', 'dropper').length === 1, 3000, 'onQosDropped');
      const dropped = by('onQosDropped', 'dropper')[0]!;
      assert.deepEqual([dropped.on, dropped.topic, dropped.qos, dropped.packetId], [dropperShard, 'qd/1', 1, by('onQosPublish', 'dropper')[0]!.packetId]);
      const d = by('onDisconnect', 'dropper');
      assert.deepEqual([d.length, d[0]!.on, d[0]!.expire, d[0]!.takeover], [1, dropperShard, false, true]);
      dropper.end(true); fresh.end(true);

      // Beyond the subscriber's Maximum Packet Size: not sent, onPublishDropped 'too-large'.
      const tiny = await connect(url, { version: 5, clientId: 'tiny', properties: { maximumPacketSize: 200 } });
      const tinyGot = new Collector(tiny);
      await tiny.subscribeAsync('big/#', { qos: 1 });
      await pub.publishAsync('big/1', Buffer.alloc(1000, 1), { qos: 1 });
      await pub.publishAsync('big/2', 'small', { qos: 1 });
      await eventually(() => tinyGot.messages.length === 1, 3000, 'the small one delivered');
      await eventually(() => by('onPublishDropped', 'tiny').length === 1, 3000, 'onPublishDropped too-large');
      const big = by('onPublishDropped', 'tiny')[0]!;
      assert.deepEqual([big.on, big.topic, big.qos, big.bytes, big.reason], [await shardOf('tiny'), 'big/1', 1, 1000, 'too-large']);
      assert.equal(tinyGot.messages[0]!.topic, 'big/2');
      tiny.end(true);

      // A retained message whose expiry passes: onRetainedExpired once, on the topic's home
      // shard, and no shard keeps it (/metrics: the most any shard's replica holds).
      const retained = async (): Promise<number> => {
        const text = await (await fetch(`${broker.listenUrls().find((u) => u.startsWith('http:'))}/metrics`)).text();
        return Number(/^shoal_retained_messages (\d+)$/m.exec(text)![1]);
      };
      const topic = 'rx/expiring';
      await pub.publishAsync(topic, 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      assert.equal(await retained(), 1);
      await eventually(() => by('onRetainedExpired').length === 1, 5000, 'onRetainedExpired');
      assert.deepEqual(by('onRetainedExpired').map((r) => [r.on, r.topic]), [[homeShard(topic, shards), topic]]);
      await eventually(async () => (await retained()) === 0, 3000, 'the expired message gone from every replica');
      await sleep(1200);
      assert.equal(by('onRetainedExpired').length, 1);
      pub.end(true);
    } finally {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// onACLCheck at delivery (Mosquitto's semantics: read access checked against each delivered
// message's topic, not only the filter at SUBSCRIBE), at 1 and 4 shards, with a broker embedded
// here and real MQTT.js clients over TCP (fixtures/read-acl.ts decides). A synchronous answer
// takes effect on that message; a promise is not waited for (that message gets the SUBSCRIBE
// verdict) and its answer takes effect from the topic's next message; a pending answer neither
// reorders the subscriber's messages nor holds anyone else's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker } from '../../src/index.ts';
import { collect, connect, sleep } from '../helpers/clients.ts';

const READ_ACL = new URL('./fixtures/read-acl.ts', import.meta.url).href;

for (const shards of [1, 4]) {
  test(`onACLCheck at delivery: per message, on the subscriber's shard, async answers in order and without a stall (${shards} shard${shards > 1 ? 's' : ''})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-acl-delivery-'));
    const file = join(dir, 'checks.txt');
    const broker = await createBroker({ host: '127.0.0.1', port: 0, shards, accept: 'main', persistence: 'memory', logLevel: 'warn', sysInterval: 0, hooks: [{ module: READ_ACL, options: { file } }] });
    try {
      await broker.listen();
      const url = `mqtt://127.0.0.1:${broker.address()!.port}`;
      const sub = await connect(url, { version: 5, clientId: 'reader' });
      const pub = await connect(url, { version: 5, clientId: 'writer' });
      const got = collect(sub);
      await sub.subscribeAsync(['sync/#', 'async/#', 'slow/#'], { qos: 1 });
      const readerShard = (await broker.client('reader'))!.shard;
      if (shards > 1) assert.notEqual((await broker.client('writer'))!.shard, readerShard, 'publisher and subscriber on different shards');

      // Synchronous answers: the refused message is not delivered, the others are, in order.
      for (const t of ['sync/a', 'sync/secret', 'sync/b', 'sync/secret/x', 'sync/c']) await pub.publishAsync(t, t, { qos: 1 });
      await got.waitFor(3);
      await sleep(100);
      assert.deepEqual(got.topics(), ['sync/a', 'sync/b', 'sync/c']);
      const checks = (): string[][] => readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '));
      const atDelivery = checks().filter((c) => c[3]!.startsWith('sync/') && !c[3]!.includes('#'));
      assert.deepEqual(atDelivery.map((c) => c[3]), ['sync/a', 'sync/secret', 'sync/b', 'sync/secret/x', 'sync/c'], 'asked once per delivered message, with its topic');
      assert.ok(atDelivery.every((c) => Number(c[0]) === readerShard && Number(c[1]) === readerShard && c[2] === 'reader'), 'on the subscriber\'s shard, about the subscriber');
      got.clear();

      // A promise: the first async/secret gets the SUBSCRIBE verdict; once the answer is in, the
      // next one is refused. Interleaved with synchronous topics, the delivered ones keep order.
      await pub.publishAsync('async/secret', '1', { qos: 1 });
      await sleep(150);
      const order: string[] = [];
      for (let i = 0; i < 20; i++) {
        const t = i % 2 === 0 ? `async/n${i % 4}` : `sync/n${i}`;
        order.push(`${t}#${i}`);
        await pub.publishAsync(t, String(i), { qos: 1 });
        if (i === 10) await pub.publishAsync('async/secret', '2', { qos: 1 });
      }
      await got.waitFor(21);
      await sleep(150);
      assert.deepEqual(got.messages.map((m) => `${m.topic}#${m.payload.toString()}`), ['async/secret#1', ...order], 'the second async/secret refused, the rest in publish order');

      // A pending answer holds nothing: a slow topic's message and the ones after it arrive at once.
      got.clear();
      const t0 = Date.now();
      await pub.publishAsync('slow/secret', 's', { qos: 1 });
      await pub.publishAsync('sync/after', 'a', { qos: 1 });
      await got.waitFor(2);
      assert.ok(Date.now() - t0 < 600, `delivered in ${Date.now() - t0} ms, not after the 800 ms answer`);
      assert.deepEqual(got.topics(), ['slow/secret', 'sync/after']);
      // While it is pending the hook is not asked again for that topic; once in, it refuses.
      const slowAsked = (): number => checks().filter((c) => c[3] === 'slow/secret').length;
      await pub.publishAsync('slow/secret', 's2', { qos: 1 });
      assert.equal(slowAsked(), 1);
      await sleep(900);
      got.clear();
      await pub.publishAsync('slow/secret', 's3', { qos: 1 });
      await pub.publishAsync('sync/last', 'l', { qos: 1 });
      await got.waitFor(1);
      await sleep(100);
      assert.deepEqual(got.topics(), ['sync/last']);
      sub.end(true);
      pub.end(true);
    } finally {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// A delayed will survives a crash: a v5 client with a persistent session and a will delay is
// connected when the broker is killed (SIGKILL); after the restart the will goes out once its
// delay has passed (counted from the restart: the disconnect was the crash), exactly once,
// and not again after a further restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, isMosquitto, type Broker, type BrokerOptions } from '../helpers/broker.ts';
import { RawClient, type ReceivedPublish } from '../helpers/raw.ts';

const WILL_DELAY_S = 2;

describe('delayed will across a crash', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  test(`a will with delay ${WILL_DELAY_S} s pending at SIGKILL goes out ${WILL_DELAY_S} s after the restart, once`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-will-'));
    const opts: BrokerOptions = { persistence: 'durable', shards: 2, dataDir: dir };
    const watcherConnect = { version: 5 as const, clientId: 'will-watcher', clean: false, properties: { sessionExpiryInterval: 600 } };
    let b: Broker = await startBroker(opts);
    try {
      const { c: w0 } = await RawClient.connect(b.port, watcherConnect);
      await w0.subscribe('will/t', 1);
      const { c: dying } = await RawClient.connect(b.port, {
        version: 5, clientId: 'will-dying', clean: false, properties: { sessionExpiryInterval: 600 },
        will: { topic: 'will/t', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: WILL_DELAY_S } },
      });
      // The session record (with its will) is written at CONNECT; a SUBACK of the same
      // persistent session is only sent after a later commit, so it proves the write is done.
      await dying.subscribe('will/unused', 0);
      await b.kill('SIGKILL');
      w0.destroy();
      dying.destroy();

      b = await startBroker(opts);
      const restartedAt = Date.now();
      const { c: w1 } = await RawClient.connect(b.port, watcherConnect);
      const will = await w1.waitFor('publish', 10_000, (p) => (p as ReceivedPublish).topic === 'will/t') as ReceivedPublish;
      const after = Date.now() - restartedAt;
      assert.equal(will.payload.toString(), 'gone');
      assert.ok(after >= WILL_DELAY_S * 1000 - 500, `the will waited for its delay after the restart (came after ${after} ms)`);
      await w1.ack(will);
      await w1.expectNothing(1000);
      w1.disconnect();

      // Sent once: a further restart does not send it again.
      assert.equal(await b.stop(), 0);
      b = await startBroker(opts);
      const { c: w2 } = await RawClient.connect(b.port, watcherConnect);
      await w2.expectNothing(WILL_DELAY_S * 1000 + 1000);
      w2.disconnect();
    } finally {
      await b.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

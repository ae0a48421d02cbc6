// Regression: every shard decodes non-PUBLISH packets with one mqtt-packet parser per protocol
// version, and every connection's CONNECT goes through the version-4 one. mqtt-packet makes a
// parser take a CONNECT it decodes as its settings, so after an MQTT 5 client connected, the
// 3.1.1 clients of the same shard had their next SUBSCRIBE (or any non-PUBLISH packet) decoded
// as v5 and were disconnected as malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker } from '../helpers/broker.ts';
import { connect, collect, subscribe, publish, endAll, uid, type MqttClient } from '../helpers/clients.ts';

test('3.1.1 and 3.1 clients keep working after an MQTT 5 client connected to their shard', async () => {
  const b = await startBroker({ shards: 1 });
  const cs: MqttClient[] = [];
  try {
    for (const version of [4, 3, 4, 5] as const) cs.push(await connect(b.url, { version }));
    const topic = uid('mixed');
    const cols = cs.map((c) => collect(c));
    for (const [i, c] of cs.entries()) {
      await subscribe(c, topic, { qos: 1 }).catch((err: Error) => { throw new Error(`client ${i}: ${err.message}`); });
    }
    await publish(cs[0]!, topic, 'to all', { qos: 1 });
    for (const [i, col] of cols.entries()) {
      await col.waitFor(1).catch((err: Error) => { throw new Error(`client ${i}: ${err.message}`); });
      assert.deepEqual(col.payloads(), ['to all']);
    }
  } finally {
    await endAll(cs);
    await b.stop();
  }
});

// Regression (issue #16): when NATS went while a node's commit answers were still out, the acks
// that waited for them failed at --cluster-timeout with DISCONNECT 0x80, and until then every
// later ack of the shard, local-only ones included, waited behind them. A v5 publisher with a
// session cannot reconnect without NATS (CONNACK 0x88), so its local publishing stopped for the
// rest of the outage (the flaky "NATS restarted mid-stream" of test/cluster/operations.test.ts).
// Now those acks wait for the hold (docs/cluster.md, "NATS lost"): the publisher stays connected,
// local traffic goes on, and once NATS is back every acknowledged message reaches the other node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, eventually, sleep, subscribe, uid } from '../helpers/clients.ts';
import { request } from '../admin/helpers.ts';
import { acksWithin, natsMissing, persistentPublisher, routeVisible, stream, useCluster } from '../cluster/helpers.ts';
import { stopChild } from '../helpers/child-process.ts';

const skip = natsMissing;
/** a: the publisher's node (one shard: every ack shares its commit gate); c: the remote subscriber's. */
const cluster = useCluster('drop', ['a', 'c'], (id) => (id === 'a'
  ? { persistence: 'fast', shards: 1, extraArgs: ['--http-port', '0'] }
  : { persistence: 'fast' }));
const clients = cluster.clients;

test('NATS drop with commit answers outstanding: the publisher is not disconnected (no 0x80), local acks and deliveries go on during the outage, and every acknowledged QoS 1 message reaches the other node once NATS is back', { skip, timeout: 180_000 }, async (t) => {
  const a = cluster.nodes[0]!;
  const c = cluster.nodes[1]!;
  const admin = a.urls.http!;
  const topic = uid('cut');
  const remote = await connect(c.url, { version: 5, clientId: uid('rs'), clean: false, properties: { sessionExpiryInterval: 600 } });
  const local = await connect(a.url, { version: 5 });
  const other = await connect(a.url, { version: 5 }); // publishes to a topic only node a wants
  clients.push(remote, local, other);
  await subscribe(remote, topic, { qos: 1 });
  await subscribe(local, topic, { qos: 1 });
  const gr = collect(remote);
  const gl = collect(local);
  await routeVisible(other, topic, [gr, gl]);

  const { pub, disconnects, closes } = await persistentPublisher(a.url, clients);
  const st = stream(pub, topic, 1, 2);
  t.after(() => st.stop());
  const acked = st.acked;
  await eventually(() => acked.size >= 200, 20_000, '200 acknowledged before the cut');

  // Frozen for less than --cluster-timeout (3 s): the frames and commit requests of that second
  // are out, their answers never come; then killed, which node a sees as NATS gone.
  process.kill(cluster.nats().proc.pid!, 'SIGSTOP');
  await sleep(1000);
  await stopChild(cluster.nats().proc, { signal: 'SIGKILL' });
  await eventually(async () => (await request(`${admin}/ready`)).status === 503, 10_000, '/ready 503 while NATS is gone');

  // Local traffic during the outage: deliveries to the local subscriber, and acks for a topic
  // no other node wants, at their usual pace (not behind the held ones, not at --cluster-hold).
  const during = gl.messages.length;
  await eventually(() => gl.messages.length > during + 50, 10_000, 'local delivery goes on without NATS');
  const ms = await acksWithin(other, uid('only-a'), 200, 1, 10_000);
  assert.ok(ms < 5000, `200 local-only acks took ${ms.toFixed(0)} ms during the outage`);
  // Past --cluster-timeout since the cut: before the fix, the acks whose answers were out failed here.
  await sleep(4000);
  assert.deepEqual(disconnects, [], 'no DISCONNECT to the publisher during the outage');
  assert.equal(closes(), 0, 'the publisher stayed connected through the outage');

  await cluster.restartNats();
  await eventually(async () => (await request(`${admin}/ready`)).status === 200, 30_000, 'node a ready again');
  const back = acked.size;
  await eventually(() => acked.size > back + 200, 30_000, 'acks go on after NATS is back');
  await st.stop();
  assert.deepEqual(disconnects, [], 'no DISCONNECT to the publisher at all');
  const missingNow = (): number[] => { const got = new Set(gr.payloads().map(Number)); return [...acked].filter((k) => !got.has(k)); };
  await eventually(() => missingNow().length === 0, 20_000, 'every acknowledged message at node c').catch(() => {});
  const missing = missingNow();
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acked.size} acknowledged messages missing at node c`);
});

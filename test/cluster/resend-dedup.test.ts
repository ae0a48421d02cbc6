// The resend dedup (docs/cluster.md, "The unconfirmed window"): frames a node delivered but
// whose commit answer never came back are sent again with PubFlag.RESENT once NATS is back,
// and the receiving shard drops those it routed already (its last-routed sequence per sender).
// Forced here: the receiving node is frozen (SIGSTOP) while frames for it pile up in its socket,
// so none of their commit requests is answered; NATS is killed (the sender moves its window
// into the hold) and started again, and the receiver is let go at once: it routes what its socket
// had, then reconnects, and the sender resends all of it. Without the dedup every one of those
// messages reached the subscriber twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, eventually, sleep, subscribe, uid } from '../helpers/clients.ts';
import { request } from '../admin/helpers.ts';
import { stopChild } from '../helpers/child-process.ts';
import { assertExactlyOnce, natsMissing, persistentPublisher, routeVisible, stream, useCluster } from './helpers.ts';

const skip = natsMissing;
/** a: the publisher's node (one shard); c: the persistent subscriber's. */
const cluster = useCluster('dedup', ['a', 'c'], (id) => (id === 'a'
  ? { persistence: 'fast', shards: 1, extraArgs: ['--http-port', '0'] }
  : { persistence: 'fast', shards: 1 }));

test('cluster resend dedup: frames the other node routed before NATS went, sent again with RESENT when it is back, reach its QoS 2 subscriber exactly once and none is missing', { skip, timeout: 180_000 }, async (t) => {
  const a = cluster.nodes[0]!;
  const c = cluster.nodes[1]!;
  const topic = uid('dd');
  const remote = await connect(c.url, { version: 5, clientId: uid('rs'), clean: false, properties: { sessionExpiryInterval: 600 } });
  const probe = await connect(a.url);
  cluster.clients.push(remote, probe);
  await subscribe(remote, topic, { qos: 2 });
  const got = collect(remote);
  await routeVisible(probe, topic, got);
  got.clear();

  const { pub } = await persistentPublisher(a.url, cluster.clients);
  const st = stream(pub, topic, 2);
  t.after(() => st.stop());
  const completed = st.acked;
  await eventually(() => completed.size >= 100, 20_000, '100 completed before the cut');

  process.kill(c.pid, 'SIGSTOP');
  let frozen = true;
  t.after(() => { if (frozen) process.kill(c.pid, 'SIGCONT'); });
  const sentWhileFrozen = st.sent();
  await sleep(800);
  await stopChild(cluster.nats().proc, { signal: 'SIGKILL' });
  await eventually(async () => (await request(`${a.urls.http!}/ready`)).status === 503, 10_000, "node a sees NATS gone");
  await cluster.restartNats();
  process.kill(c.pid, 'SIGCONT');
  frozen = false;
  assert.ok(st.sent() - sentWhileFrozen > 50, `only ${st.sent() - sentWhileFrozen} published while node c was frozen`);

  await eventually(async () => (await request(`${a.urls.http!}/ready`)).status === 200, 30_000, 'node a ready again');
  const back = completed.size;
  await eventually(() => completed.size > back + 100, 30_000, 'publishes complete again after NATS is back');
  await st.stop();
  await assertExactlyOnce(() => got.payloads().map(Number), completed, 'node c');
});

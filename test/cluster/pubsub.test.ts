// Three Shoal nodes on one real nats-server behave as one broker for publish/subscribe
// (issue #16, step 1; docs/cluster.md): a message published on one node reaches subscribers
// on the others for 3.1.1 and 5, through wildcards, in publish order, each interested node
// getting it once; a node announces a filter on its first subscriber and withdraws it on its
// last; a node that joins has the route table before it accepts clients.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, eventually, publish, sleep, subscribe, uid, unsubscribe, type MqttClient } from '../helpers/clients.ts';
import { natsMissing, routeVisible, startNats, startNode, type Nats } from './helpers.ts';

const skip = natsMissing;
const CLUSTER = uid('c').replace(/[^A-Za-z0-9_-]/g, '_');
let nats: Nats;
const nodes: Broker[] = [];
const clients: MqttClient[] = [];

async function client(node: number, version: 4 | 5 = 4, opts: Record<string, unknown> = {}): Promise<MqttClient> {
  const c = await connect(nodes[node]!.url, { version, ...opts });
  clients.push(c);
  return c;
}

/** The filters node `id` has announced, read from the routes bucket itself. */
async function announced(id: string): Promise<string[]> {
  const nc = await natsConnect({ servers: nats.url });
  try {
    const kv = await new Kvm(nc).open(`shoal_${CLUSTER}_routes`);
    const out: string[] = [];
    for await (const k of await kv.keys(`${id}.>`)) out.push(Buffer.from(k.slice(id.length + 1), 'base64url').toString());
    return out.sort();
  } finally { await nc.close(); }
}

before(async () => {
  if (skip) return;
  nats = await startNats();
  for (let i = 1; i <= 3; i++) nodes.push(await startNode(nats, CLUSTER, `n${i}`));
});

after(async () => {
  await endAll(clients);
  for (const n of nodes) await n.stop();
  await nats?.stop();
});

for (const version of [4, 5] as const) {
  test(`cluster pub/sub v${version === 4 ? '3.1.1' : '5'}: a publish on node 1 reaches subscribers on nodes 2 and 3 through + and # filters, once each`, { skip }, async () => {
    const base = uid('cps');
    const s2 = await client(1, version);
    const s3 = await client(2, version);
    const local = await client(0, version);
    await subscribe(s2, `${base}/+/temp`);
    await subscribe(s3, `${base}/#`);
    await subscribe(local, `${base}/#`);
    const g2 = collect(s2);
    const g3 = collect(s3);
    const gl = collect(local);
    const pub = await client(0, version);
    await routeVisible(pub, `${base}/probe/temp`, g2);
    await routeVisible(pub, `${base}/probe3`, [g3, gl]); // not a match of node 2's filter
    await publish(pub, `${base}/kitchen/temp`, 'a');
    await publish(pub, `${base}/kitchen/humidity`, 'b');
    await g3.waitFor(2);
    await g2.waitFor(1);
    await gl.waitFor(2);
    await sleep(200);
    assert.deepEqual(g2.payloads(), ['a'], 'node 2: only the + match, once');
    assert.deepEqual(g3.payloads(), ['a', 'b'], 'node 3: both, once each, in order');
    assert.deepEqual(gl.payloads(), ['a', 'b'], 'the local subscriber as without a cluster');
  });
}

test('cluster pub/sub: 3,000 QoS 0 messages of one publisher on node 1 arrive at node 3 in publish order, none twice', { skip }, async () => {
  const topic = uid('order');
  const sub = await client(2, 5);
  await subscribe(sub, topic);
  const got = collect(sub);
  const pub = await client(0, 4);
  await routeVisible(pub, topic, got);
  const n = 3000;
  for (let i = 0; i < n; i++) pub.publish(topic, String(i), { qos: 0 });
  await got.waitFor(n, 30_000);
  await sleep(200);
  const seen = got.payloads().map(Number);
  assert.equal(seen.length, n);
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
});

test('cluster routes: a node announces a filter at its first subscriber and withdraws it at its last (two subscribers on two shards, one announcement)', { skip }, async () => {
  const f = `${uid('ann')}/+/x`;
  const a = await client(1, 5);
  const b = await client(1, 5); // main places it on the other shard of node 2 (least loaded)
  await subscribe(a, f);
  await eventually(async () => (await announced('n2')).includes(f), 5000, 'n2 announced the filter');
  await subscribe(b, f);
  await unsubscribe(a, f);
  await sleep(300);
  assert.ok((await announced('n2')).includes(f), 'still announced while one subscriber is left');
  const got = collect(b);
  const pub = await client(2, 4);
  await routeVisible(pub, f.replace('+', 'y'), got);
  await unsubscribe(b, f);
  await eventually(async () => !(await announced('n2')).includes(f), 5000, 'n2 withdrew the filter after its last subscriber left');
});

test('cluster join: a node started after the subscriptions has the route table before it accepts clients (its first publish crosses)', { skip }, async () => {
  const topic = uid('join');
  const sub = await client(1, 4);
  await subscribe(sub, topic);
  const got = collect(sub);
  await eventually(async () => (await announced('n2')).includes(topic), 5000, 'n2 announced the filter');
  const late = await startNode(nats, CLUSTER, 'n4');
  nodes.push(late);
  // Right after it listens: no probe, no wait.
  const pub = await connect(late.url, { version: 4 });
  clients.push(pub);
  await publish(pub, topic, 'first');
  const [m] = await got.waitFor(1, 5000);
  assert.equal(m!.payload.toString(), 'first');
});

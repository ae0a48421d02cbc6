// Running a cluster (issue #16, step 5 without shared subscriptions; docs/cluster.md): the
// REST endpoints /api/v1/cluster/nodes and /api/v1/cluster/stat/online, the cluster gauges on
// /metrics, and NATS restarted mid-stream: every node keeps serving its own clients and says
// not ready on /ready, then rejoins (the memory buckets rebuilt), and nothing acknowledged is lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, eventually, publish, sleep, subscribe, uid, withTimeout, type MqttClient } from '../helpers/clients.ts';
import { request, scrape } from '../admin/helpers.ts';
import { natsMissing, routeVisible, startNats, startNode, type Nats } from './helpers.ts';

const skip = natsMissing;
const CLUSTER = uid('o').replace(/[^A-Za-z0-9_-]/g, '_');
let nats: Nats;
let natsDir: string;
const nodes: (Broker & { admin: string })[] = [];
const clients: MqttClient[] = [];

before(async () => {
  if (skip) return;
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  natsDir = mkdtempSync(join(tmpdir(), 'shoal-nats-keep-'));
  nats = await startNats(undefined, natsDir);
  for (const id of ['a', 'b', 'c']) {
    const b = await startNode(nats, CLUSTER, id, { persistence: 'fast', extraArgs: ['--http-port', '0'] });
    nodes.push(Object.assign(b, { admin: b.urls.http! }));
  }
});
after(async () => {
  await endAll(clients);
  for (const n of nodes) await n.stop();
  await nats?.stop();
  if (natsDir) (await import('node:fs')).rmSync(natsDir, { recursive: true, force: true });
});

test('cluster REST: /api/v1/cluster/nodes lists this node first and the two others up; stat/online counts the clients of every node; /metrics has the cluster gauges', { skip }, async () => {
  await eventually(async () => {
    const list = (await request(`${nodes[0]!.admin}/api/v1/cluster/nodes`)).json() as { node: string; self: boolean; up: boolean }[];
    return list.length === 3 && list[0]!.node === 'a' && list[0]!.self && list.every((n) => n.up);
  }, 10_000, 'three nodes up');
  const mine = [await connect(nodes[1]!.url), await connect(nodes[1]!.url), await connect(nodes[2]!.url)];
  clients.push(...mine);
  const online = (await request(`${nodes[0]!.admin}/api/v1/cluster/stat/online`)).json() as { total: number; nodes: { node: string; online: number }[] };
  assert.equal(online.nodes.length, 3);
  assert.equal(online.nodes.find((n) => n.node === 'b')!.online, 2);
  assert.equal(online.nodes.find((n) => n.node === 'c')!.online, 1);
  assert.equal(online.total, 3);
  const m = await scrape(nodes[0]!.admin);
  assert.equal(m.value('shoal_cluster_connected'), 1);
  assert.equal(m.value('shoal_cluster_nodes', { state: 'up' }), 2);
  await endAll(mine);
});

test('cluster NATS restarted mid-stream: local clients are served throughout, /ready says not ready while NATS is gone, the nodes rejoin, and every acknowledged QoS 1 message reaches the persistent subscriber on node 3', { skip }, async (t) => {
  const topic = uid('nl');
  const remote = await connect(nodes[2]!.url, { version: 5, clientId: uid('rs'), clean: false, properties: { sessionExpiryInterval: 600 } });
  const local = await connect(nodes[0]!.url, { version: 5 });
  clients.push(remote, local);
  await subscribe(remote, topic, { qos: 1 });
  await subscribe(local, topic, { qos: 1 });
  const gr = collect(remote);
  const gl = collect(local);
  const probe = await connect(nodes[0]!.url);
  clients.push(probe);
  await routeVisible(probe, topic, [gr, gl]);

  const acked = new Set<number>();
  const pub = mqtt.connect(nodes[0]!.url, { protocolVersion: 5, clientId: uid('np'), clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 600 } });
  pub.on('error', () => {});
  clients.push(pub);
  let i = 0;
  let running = true;
  t.after(() => { running = false; }); // a failed assertion must not leave the stream holding the file open
  const streaming = (async () => {
    while (running) {
      const k = i++;
      pub.publish(topic, String(k), { qos: 1 }, (err) => { if (!err) acked.add(k); });
      await sleep(5);
    }
  })();
  await eventually(() => acked.size >= 100, 20_000, '100 acked before the outage');
  await nats.stop();
  await eventually(async () => (await request(`${nodes[0]!.admin}/ready`)).status === 503, 10_000, '/ready 503 while NATS is gone');
  const ready = (await request(`${nodes[0]!.admin}/ready`)).json() as { reason: string };
  assert.match(ready.reason, /cluster: not connected to NATS/);
  // The node's own clients: a message published there meanwhile still reaches the local subscriber.
  const during = gl.messages.length;
  await eventually(() => gl.messages.length > during + 20, 10_000, 'local delivery goes on without NATS');
  // Longer than a node's heartbeat timeout: nobody may count the others down meanwhile.
  await sleep(4000);
  nats = await startNats(nats.port, natsDir);
  for (const n of nodes) await eventually(async () => (await request(`${n.admin}/ready`)).status === 200, 30_000, `${n.admin}/ready back to 200`);
  const afterBack = acked.size;
  await eventually(() => acked.size > afterBack + 100, 30_000, 'acks go on after NATS is back');
  running = false;
  await streaming;
  const missingNow = (): number[] => { const got = new Set(gr.payloads().map(Number)); return [...acked].filter((k) => !got.has(k)); };
  await eventually(() => missingNow().length === 0, 15_000, 'every acknowledged message delivered').catch(() => {});
  const missing = missingNow();
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acked.size} acknowledged messages missing on node 3`);
  // The route table was rebuilt: a new subscriber on node 2 hears node 1 again.
  const fresh = await connect(nodes[1]!.url);
  clients.push(fresh);
  const t2 = uid('after');
  await subscribe(fresh, t2);
  const gf = collect(fresh);
  await routeVisible(probe, t2, gf);
  await publish(probe, t2, 'hello again');
  await gf.waitFor(1);
});

test('cluster blacklist: an id banned through node 1 is disconnected on node 2 and refused on node 3 (v5 CONNACK 0x8A); listed on every node; lifted through node 3, it connects again; lifting it twice is 404', { skip }, async () => {
  const id = uid('banned');
  const held = await connect(nodes[1]!.url, { version: 5, clientId: id });
  clients.push(held);
  const kicked = new Promise<number>((r) => held.once('disconnect', (p) => r(p.reasonCode ?? -1)));
  const post = await request(`${nodes[0]!.admin}/api/v1/cluster/blacklist/${encodeURIComponent(id)}`, { method: 'POST' });
  assert.equal(post.status, 200, post.text);
  assert.equal(await withTimeout(kicked, 10_000, 'the connected client is disconnected on node 2'), 0x98);
  await eventually(async () => {
    const c = mqtt.connect(nodes[2]!.url, { protocolVersion: 5, clientId: id, reconnectPeriod: 0 });
    const code = await new Promise<number>((r) => { c.once('connect', () => r(0)); c.once('error', (e) => r((e as { code?: number }).code ?? -1)); });
    c.end(true);
    return code === 0x8a;
  }, 10_000, 'refused on node 3', 100);
  for (const n of nodes) {
    await eventually(async () => ((await request(`${n.admin}/api/v1/cluster/blacklist`)).json() as string[]).includes(id), 5000, `listed at ${n.admin}`);
  }
  assert.equal((await request(`${nodes[2]!.admin}/api/v1/cluster/blacklist/${encodeURIComponent(id)}`, { method: 'DELETE' })).status, 200);
  await eventually(async () => {
    try { const c = await connect(nodes[0]!.url, { version: 5, clientId: id }); await endAll([c]); return true; } catch { return false; }
  }, 10_000, 'connects again on node 1', 100);
  assert.equal((await request(`${nodes[2]!.admin}/api/v1/cluster/blacklist/${encodeURIComponent(id)}`, { method: 'DELETE' })).status, 404);
});

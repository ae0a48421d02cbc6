// A session's move between nodes when its old node dies (docs/cluster.md, "Messages on their way
// during a move"): killed with SIGKILL while the new node waits for the hand-over, the CONNECT on
// the new node gets its answer within --cluster-timeout (0x88, or a fresh session once the old
// node is down); killed just after the hand-over, while the move's markers are on their way, the
// session on the new node goes live once the old node is down. Either way, every QoS 1 message
// acknowledged to a publisher streaming meanwhile reaches the persistent subscribers on the
// surviving nodes. Four nodes on one nats-server; nodes a and d are the ones killed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { Broker } from '../helpers/broker.ts';
import { collect, connect, endAll, eventually, publish, subscribe, uid, withTimeout, type Collector, type MqttClient } from '../helpers/clients.ts';
import { request } from '../admin/helpers.ts';
import { natsMissing, routeVisible, startNats, startNode, type Nats } from './helpers.ts';

const skip = natsMissing;
const CLUSTER = uid('mk').replace(/[^A-Za-z0-9_-]/g, '_');
const IDS = ['a', 'b', 'c', 'd'];
const CLUSTER_TIMEOUT = 3000;
let nats: Nats;
const nodes: (Broker & { admin: string })[] = [];
const clients: MqttClient[] = [];

before(async () => {
  if (skip) return;
  nats = await startNats();
  for (const id of IDS) {
    const b = await startNode(nats, CLUSTER, id, { persistence: 'fast', extraArgs: ['--http-port', '0', '--cluster-timeout', String(CLUSTER_TIMEOUT)] });
    nodes.push(Object.assign(b, { admin: b.urls.http! }));
  }
  for (const n of nodes) {
    await eventually(async () => ((await request(`${n.admin}/api/v1/cluster/nodes`)).json() as { up: boolean }[]).filter((x) => x.up).length === 4, 20_000, 'four nodes up');
  }
});
after(async () => {
  await endAll(clients);
  for (const n of nodes) if (n.alive()) await n.stop();
  await nats?.stop();
});

const persistent = (clientId: string) => ({ version: 5, clientId, clean: false, properties: { sessionExpiryInterval: 600 } } as const);

/** A v5 connection that does not reconnect, with its collector attached before CONNACK; resolves with the CONNACK's reason and how long it took. */
async function tryConnect(url: string, clientId: string): Promise<{ c: MqttClient; got: Collector; reason: number; ms: number }> {
  const t0 = performance.now();
  const c = mqtt.connect(url, { ...persistent(clientId), protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(c);
  const got = collect(c);
  const reason = await withTimeout(new Promise<number>((resolve) => {
    c.once('connect', (p) => resolve(p.reasonCode ?? 0));
    c.once('error', (e) => resolve((e as { code?: number }).code ?? -1));
  }), CLUSTER_TIMEOUT + 10_000, 'a CONNACK');
  return { c, got, reason, ms: performance.now() - t0 };
}

/**
 * QoS 1 publishes on node c until stopped, each acknowledged one recorded; a publisher whose ack
 * fails (a node it went to died first) is disconnected by the broker and connects again.
 */
function stream(topic: string): { acked: string[]; stop: () => Promise<void> } {
  const acked: string[] = [];
  let stopped = false;
  const done = (async () => {
    let pub: MqttClient | null = null;
    for (let i = 0; !stopped; i++) {
      try {
        pub ??= await connect(nodes[2]!.url, { version: 5 });
        await publish(pub, topic, `m-${i}`, { qos: 1 }, 2 * CLUSTER_TIMEOUT);
        acked.push(`m-${i}`);
      } catch {
        pub?.end(true);
        pub = null;
      }
    }
    pub?.end(true);
  })();
  return { acked, stop: async () => { stopped = true; await done; } };
}

/** Persistent subscribers on nodes b and c, and the moving session on `from`, all on `topic`. */
async function subscribers(topic: string, from: number, id: string): Promise<{ pb: Collector; pc: Collector; onOld: Collector }> {
  const got: Collector[] = [];
  for (const [n, cid] of [[1, uid('pb')], [2, uid('pc')], [from, id]] as const) {
    const c = await connect(nodes[n]!.url, persistent(cid));
    clients.push(c);
    await subscribe(c, topic, { qos: 1 });
    got.push(collect(c));
  }
  const probe = await connect(nodes[2]!.url);
  clients.push(probe);
  await routeVisible(probe, topic, got);
  return { pb: got[0]!, pc: got[1]!, onOld: got[2]! };
}

async function downAt(observer: number, node: string): Promise<void> {
  await eventually(async () => {
    const list = (await request(`${nodes[observer]!.admin}/api/v1/cluster/nodes`)).json() as { node: string; up: boolean }[];
    return list.some((x) => x.node === node && !x.up);
  }, 20_000, `node ${node} down at node ${IDS[observer]}`);
}

function assertAllAt(acked: readonly string[], subs: Collector[]): void {
  for (const [i, g] of subs.entries()) {
    const have = new Set(g.payloads());
    const lost = acked.filter((p) => !have.has(p));
    assert.deepEqual(lost, [], `subscriber ${i}: ${lost.length} of ${acked.length} acknowledged messages lost`);
  }
}

test('cluster move, old node killed while the new node waits for the hand-over: the CONNECT is answered within --cluster-timeout, and every acknowledged message reaches the persistent subscribers on the surviving nodes', { skip }, async () => {
  const id = uid('mka');
  const topic = uid('mka');
  const { pb, pc, onOld } = await subscribers(topic, 0, id);
  const s = stream(topic);
  await eventually(() => onOld.messages.length >= 20, 20_000, 'the stream reaches the session on node a');
  process.kill(nodes[0]!.pid, 'SIGSTOP'); // node a cannot answer the hand-over
  const killed = (async () => { await new Promise((r) => setTimeout(r, 500)); await nodes[0]!.kill('SIGKILL'); })();
  const first = await tryConnect(nodes[1]!.url, id);
  await killed;
  // Refused with 0x88 (node a did not hand over), or a fresh session if node b already saw it down.
  assert.ok(first.reason === 0x88 || first.reason === 0, `CONNACK reason ${first.reason}`);
  assert.ok(first.ms < CLUSTER_TIMEOUT + 2500, `answered in ${first.ms.toFixed(0)} ms`);
  await downAt(1, 'a');
  const again = first.reason === 0 ? first : await tryConnect(nodes[1]!.url, id);
  assert.equal(again.reason, 0, 'accepted once node a is down');
  const atDown = s.acked.length;
  await eventually(() => s.acked.length > atDown + 50, 30_000, 'the stream goes on without node a');
  await s.stop();
  await eventually(() => pb.messages.length >= s.acked.length && pc.messages.length >= s.acked.length, 15_000, 'the subscribers caught up').catch(() => {});
  assertAllAt(s.acked, [pb, pc]);
});

test('cluster move, old node killed right after the hand-over (its markers on their way): the session on the new node goes live once the old node is down, and every acknowledged message reaches the persistent subscribers on the surviving nodes', { skip }, async () => {
  const id = uid('mkd');
  const topic = uid('mkd');
  const { pb, pc, onOld } = await subscribers(topic, 3, id);
  const s = stream(topic);
  await eventually(() => onOld.messages.length >= 20, 20_000, 'the stream reaches the session on node d');
  const moved = await tryConnect(nodes[1]!.url, id);
  await nodes[3]!.kill('SIGKILL');
  assert.equal(moved.reason, 0);
  assert.ok(moved.ms < CLUSTER_TIMEOUT, `CONNACK in ${moved.ms.toFixed(0)} ms`);
  await downAt(1, 'd');
  const atDown = s.acked.length;
  await eventually(() => moved.got.payloads().some((p) => Number(p.slice(2)) > atDown + 20), 30_000, 'live messages reach the moved session on node b');
  await s.stop();
  await eventually(() => pb.messages.length >= s.acked.length && pc.messages.length >= s.acked.length, 15_000, 'the subscribers caught up').catch(() => {});
  assertAllAt(s.acked, [pb, pc]);
  // What was acknowledged after the kill is at the moved session too (node d's share of the rest died with it).
  const have = new Set(moved.got.payloads());
  const late = s.acked.filter((p) => Number(p.slice(2)) > atDown && !have.has(p));
  assert.deepEqual(late, [], `${late.length} messages acknowledged after node d was down missing at the moved session`);
});

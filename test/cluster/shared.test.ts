// Shared subscriptions across nodes (issue #16, step 5; docs/cluster.md): members of one
// $share group on several nodes get each message once between them, weighted by how many
// members each node has, beside plain subscribers that get every message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, eventually, publish, sleep, subscribe, uid, type Collector, type MqttClient } from '../helpers/clients.ts';
import { natsMissing, useCluster } from './helpers.ts';

const skip = natsMissing;
const { nodes, clients } = useCluster('s', ['a', 'b', 'c'], { persistence: 'fast' });

async function member(node: number, filter: string): Promise<Collector> {
  const c = await connect(nodes[node]!.url, { version: 5 });
  clients.push(c);
  await subscribe(c, filter, { qos: 1 });
  return collect(c);
}

/**
 * Probes until every member has had one (every node's membership is known at the publisher),
 * then clears. A probe still on its way may land later (a group spreads them, so no one fence
 * can tell): the counts below leave probes out.
 */
async function allSeen(pub: MqttClient, topic: string, members: Collector[]): Promise<void> {
  await eventually(async () => {
    await publish(pub, topic, 'probe', { qos: 1 });
    return members.every((m) => m.messages.length > 0);
  }, 15_000, 'every member reached', 0);
  for (const m of members) m.clear();
}

/** The test's own messages a member got (numbers, in arrival order), probes left out. */
const got = (m: Collector): number[] => m.payloads().filter((p) => p !== 'probe').map(Number);
const total = (members: Collector[]): number => members.reduce((a, m) => a + got(m).length, 0);

test('cluster shared subscriptions: one member on each of three nodes, 300 QoS 1 messages from node 1: each delivered once in the group, every member gets about a third', { skip }, async () => {
  const topic = uid('sh');
  const members = [await member(0, `$share/g/${topic}`), await member(1, `$share/g/${topic}`), await member(2, `$share/g/${topic}`)];
  const pub = await connect(nodes[0]!.url, { version: 5 });
  clients.push(pub);
  await allSeen(pub, topic, members);
  const n = 300;
  await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, topic, String(i), { qos: 1 }, 20_000)));
  await eventually(() => total(members) >= n, 15_000, 'all delivered');
  await sleep(500);
  const all = members.flatMap(got).sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => i), 'each message once in the group');
  for (const [i, m] of members.entries()) assert.ok(got(m).length >= 60 && got(m).length <= 140, `member on node ${i + 1} got ${got(m).length} of ${n}`);
});

test('cluster shared subscriptions: two members on node 2 and one on node 3 share 2:1, and a plain subscriber on node 2 still gets every message once', { skip }, async () => {
  const topic = uid('sw');
  const members = [await member(1, `$share/w/${topic}`), await member(1, `$share/w/${topic}`), await member(2, `$share/w/${topic}`)];
  const plain = await member(1, topic);
  const pub = await connect(nodes[0]!.url, { version: 5 });
  clients.push(pub);
  await allSeen(pub, topic, members);
  plain.clear();
  const n = 300;
  await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, topic, String(i), { qos: 1 }, 20_000)));
  await eventually(() => total(members) >= n && got(plain).length >= n, 15_000, 'all delivered');
  await sleep(500);
  const all = members.flatMap(got).sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => i), 'each message once in the group');
  assert.deepEqual(got(plain), Array.from({ length: n }, (_, i) => i), 'the plain subscriber: every message, once, in order');
  const node2 = got(members[0]!).length + got(members[1]!).length;
  assert.ok(node2 >= 160 && node2 <= 240, `node 2's two members got ${node2} of ${n} (2/3 expected)`);
});

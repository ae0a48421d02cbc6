// Client ids unique cluster-wide (issue #16, step 4; docs/cluster.md "Client ids"): a CONNECT
// on one node for an id owned on another takes the session over — the old connection closed
// with 0x8E (v5) or closed (3.1.1), the session's subscriptions, queued and in-flight messages
// moving with it — for persistent and clean-start connections; ownership released when a
// session ends; a node that was down drops a stored session another node took meanwhile;
// CONNECT refused with 0x88 (3.1.1: return code 3) while NATS is away for an id this node does
// not own; REST GET /api/v1/cluster/clients/{id}.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { Broker } from '../helpers/broker.ts';
import { collect, connect, connectClient, endAll, eventually, publish, subscribe, uid, withTimeout, type MqttClient } from '../helpers/clients.ts';
import { RawClient, type ReceivedPublish } from '../helpers/raw.ts';
import { request } from '../admin/helpers.ts';
import { natsMissing, routeVisible, startNats, startNode, type Nats } from './helpers.ts';

const skip = natsMissing;
const CLUSTER = uid('w').replace(/[^A-Za-z0-9_-]/g, '_');
const IDS = ['a', 'b', 'c'];
let nats: Nats;
let natsDir: string;
const dirs: string[] = [];
const nodes: (Broker & { admin: string })[] = [];
const clients: MqttClient[] = [];

async function startAt(i: number): Promise<void> {
  const b = await startNode(nats, CLUSTER, IDS[i]!, { persistence: 'fast', dataDir: dirs[i], extraArgs: ['--http-port', '0'] });
  nodes[i] = Object.assign(b, { admin: b.urls.http! });
}

/** Every node sees the other two up (a restarted node's heartbeats included). */
async function allUp(): Promise<void> {
  for (const n of nodes) {
    await eventually(async () => {
      const list = (await request(`${n.admin}/api/v1/cluster/nodes`)).json() as { up: boolean }[];
      return list.length === 3 && list.every((x) => x.up);
    }, 15_000, 'three nodes up');
  }
}

async function owner(node: number, id: string): Promise<{ status: number; body: { node?: string; connected?: boolean | null; since?: string; code?: string } }> {
  const a = await request(`${nodes[node]!.admin}/api/v1/cluster/clients/${encodeURIComponent(id)}`);
  return { status: a.status, body: a.json() as never };
}

/** The v5 DISCONNECT reason a client got, or 'closed' when its connection ended without one. */
function ended(c: MqttClient): Promise<number | 'closed'> {
  return withTimeout(new Promise((resolve) => {
    c.once('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode ?? 0));
    c.once('close', () => setTimeout(() => resolve('closed'), 50));
  }), 10_000, 'the old connection to end');
}

/** Connects with a collector attached first: a queue delivered right after CONNACK is not missed. */
async function connectCollecting(url: string, opts: ReturnType<typeof persistent>, incomingStore?: InstanceType<typeof mqtt.Store>): Promise<{ c: MqttClient; got: ReturnType<typeof collect> }> {
  const c = mqtt.connect(url, { protocolVersion: opts.version, clientId: opts.clientId, clean: opts.clean, properties: 'properties' in opts ? opts.properties : undefined, reconnectPeriod: 0, incomingStore });
  clients.push(c);
  const got = collect(c);
  await withTimeout(new Promise((resolve, reject) => { c.once('connect', resolve); c.once('error', reject); }), 5000, 'CONNACK');
  return { c, got };
}

const persistent = (clientId: string, version: 4 | 5) => version === 5
  ? { version, clientId, clean: false, properties: { sessionExpiryInterval: 600 } } as const
  : { version, clientId, clean: false } as const;

before(async () => {
  if (skip) return;
  natsDir = mkdtempSync(join(tmpdir(), 'shoal-nats-own-'));
  nats = await startNats(undefined, natsDir);
  for (let i = 0; i < 3; i++) { dirs.push(mkdtempSync(join(tmpdir(), `shoal-own-${IDS[i]}-`))); await startAt(i); }
  await allUp();
});
after(async () => {
  await endAll(clients);
  for (const n of nodes) await n?.stop();
  await nats?.stop();
  for (const d of [natsDir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

for (const version of [5, 4] as const) {
  test(`cluster takeover v${version === 5 ? '5' : '3.1.1'}: a CONNECT on node b for a persistent session on node a closes a's connection (${version === 5 ? 'DISCONNECT 0x8E' : 'closed'}), and the session arrives with its subscription and its queue`, { skip }, async () => {
    const id = uid(`tk${version}`);
    const topic = uid('tk');
    const pub = await connect(nodes[2]!.url);
    clients.push(pub);
    const first = await connect(nodes[0]!.url, persistent(id, version));
    clients.push(first);
    const got1 = collect(first);
    await subscribe(first, `${topic}/#`, { qos: 1 });
    await routeVisible(pub, `${topic}/probe`, got1);
    assert.deepEqual((await owner(1, id)).body.node, 'a');

    const gone = ended(first);
    const { client: second, connack } = await connectClient(nodes[1]!.url, persistent(id, version));
    clients.push(second);
    assert.equal(connack.sessionPresent, true, 'the session came from node a');
    assert.equal(await gone, version === 5 ? 0x8e : 'closed');
    const got2 = collect(second);
    await routeVisible(pub, `${topic}/probe`, got2); // node b announced the subscription that moved
    await publish(pub, `${topic}/live`, 'live', { qos: 1 });
    await got2.waitFor(1, 5000, (m) => m.topic === `${topic}/live`);
    const o = await owner(0, id);
    assert.equal(o.body.node, 'b');
    assert.equal(o.body.connected, true);

    // Offline on b: what is published meanwhile is queued there, and moves to c with the session.
    second.end(true);
    // Queued only once node b has seen the connection go (a loaded node may take a while).
    await eventually(async () => (await owner(2, id)).body.connected === false, 10_000, 'the session offline on node b');
    for (let i = 0; i < 5; i++) await publish(pub, `${topic}/q`, `q${i}`, { qos: 1 });
    const { got: got3 } = await connectCollecting(nodes[2]!.url, persistent(id, version));
    await got3.waitFor(5, 5000, (m) => m.topic === `${topic}/q`);
    assert.deepEqual(got3.payloads().filter((p) => p.startsWith('q')), ['q0', 'q1', 'q2', 'q3', 'q4']);
    assert.equal((await owner(0, id)).body.node, 'c');
  });
}

test('cluster takeover: an unacknowledged QoS 1 delivery on node a is resent on node b with DUP after the session moves', { skip }, async () => {
  const id = uid('inf');
  const topic = uid('inf');
  const pub = await connect(nodes[2]!.url, { version: 5 });
  clients.push(pub);
  const { c: raw } = await RawClient.connect(nodes[0]!.port, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
  raw.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never);
  await raw.expectPacket('suback');
  await eventually(async () => {
    await publish(pub, topic, 'held', { qos: 1 });
    return raw.log.some((f) => f.cmd === 'publish');
  }, 10_000, 'a delivery on node a', 200);
  const first = raw.log.find((f) => f.cmd === 'publish') as ReceivedPublish; // never acknowledged
  const { c: next, connack } = await RawClient.connect(nodes[1]!.port, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
  assert.equal(connack.sessionPresent, true);
  await eventually(() => raw.closed, 5000, 'node a closed its connection');
  const resent = await next.waitFor('publish', 5000) as ReceivedPublish;
  assert.equal(Buffer.from(resent.payload).toString(), Buffer.from(first.payload).toString());
  assert.equal(resent.dup, true);
  assert.equal(resent.qos, 1);
  next.socket.destroy();
});

test('cluster takeover with clean start: node a closes with 0x8E, node b starts a fresh session, and a\'s stored session is gone', { skip }, async () => {
  const id = uid('cs');
  const topic = uid('cs');
  const first = await connect(nodes[0]!.url, persistent(id, 5));
  clients.push(first);
  await subscribe(first, topic, { qos: 1 });
  const gone = ended(first);
  const { client: fresh, connack } = await connectClient(nodes[1]!.url, { version: 5, clientId: id, clean: true });
  clients.push(fresh);
  assert.equal(connack.sessionPresent, false);
  assert.equal(await gone, 0x8e);
  const o = await owner(2, id);
  assert.equal(o.body.node, 'b');
  // Ends clean: the id is free again (released in the bucket).
  await withTimeout(fresh.endAsync(), 3000, 'end');
  await eventually(async () => (await owner(2, id)).status === 404, 5000, 'ownership released');
  // Nothing of a's session is left anywhere: a persistent CONNECT on a finds none.
  const { client: again, connack: c2 } = await connectClient(nodes[0]!.url, persistent(id, 5));
  clients.push(again);
  assert.equal(c2.sessionPresent, false);
});

test('cluster ownership REST: GET /api/v1/cluster/clients/{id} names the owner node, since when and whether it is connected; 404 for an id no node owns', { skip }, async () => {
  const id = uid('rest');
  const before = Date.now();
  const c = await connect(nodes[2]!.url, { version: 5, clientId: id });
  clients.push(c);
  const o = await owner(0, id);
  assert.equal(o.status, 200);
  assert.equal(o.body.node, 'c');
  assert.equal(o.body.connected, true);
  assert.ok(Date.parse(o.body.since!) >= before - 1000);
  const none = await owner(0, uid('nobody'));
  assert.equal(none.status, 404);
  assert.equal(none.body.code, 'SHOAL_HTTP_CLIENT_NOT_FOUND');
  await withTimeout(c.endAsync(), 3000, 'end');
  await eventually(async () => (await owner(1, id)).status === 404, 5000, 'a clean session releases its id when it ends');
});

test('cluster ownership released when a persistent session expires on its node', { skip }, async () => {
  const id = uid('exp');
  const c = await connect(nodes[1]!.url, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 1 } });
  assert.equal((await owner(0, id)).body.node, 'b');
  await withTimeout(c.endAsync(), 3000, 'end');
  assert.equal((await owner(0, id)).body.connected, false, 'kept offline on b for its expiry');
  await eventually(async () => (await owner(0, id)).status === 404, 8000, 'released at expiry');
});

test('cluster ownership at start: node a, down while node b took over its persistent session, drops its stored copy when it starts again', { skip }, async () => {
  const id = uid('down');
  const topic = uid('down');
  const first = await connect(nodes[0]!.url, persistent(id, 5));
  await subscribe(first, topic, { qos: 1 });
  first.end(true);
  await eventually(async () => (await request(`${nodes[0]!.admin}/api/v1/mqtt/clients/${id}`)).status === 200, 5000, 'the session offline on a');
  await nodes[0]!.stop();
  // a is gone (its registration deleted): b takes the id without a session.
  const { client: onB, connack } = await connectClient(nodes[1]!.url, persistent(id, 5));
  clients.push(onB);
  assert.equal(connack.sessionPresent, false);
  await startAt(0);
  await allUp();
  assert.equal((await request(`${nodes[0]!.admin}/api/v1/mqtt/clients/${id}`)).status, 404, 'a dropped the stale session');
  assert.equal((await owner(0, id)).body.node, 'b');
  // And the id still moves from b to a on request, with b's session.
  const { client: back, connack: c2 } = await connectClient(nodes[0]!.url, persistent(id, 5));
  clients.push(back);
  assert.equal(c2.sessionPresent, true);
});

test('cluster takeover time across nodes: median of 20 takeovers of a persistent v5 session between nodes a and b', { skip }, async (t) => {
  const id = uid('time');
  let c = await connect(nodes[0]!.url, persistent(id, 5));
  await subscribe(c, uid('time'), { qos: 1 });
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const { client } = await connectClient(nodes[(i + 1) % 2]!.url, persistent(id, 5));
    ms.push(performance.now() - t0);
    c.end(true);
    c = client;
  }
  clients.push(c);
  ms.sort((x, y) => x - y);
  t.diagnostic(`takeover across nodes: median ${ms[10]!.toFixed(1)} ms, min ${ms[0]!.toFixed(1)}, max ${ms[19]!.toFixed(1)} (CONNECT to CONNACK, session with 1 subscription)`);
  assert.ok(ms[10]! < 2000, `median ${ms[10]} ms`);
});

test('cluster ownership without NATS: a CONNECT for an id no local session has is refused with 0x88 (3.1.1: return code 3); one owned on this node is taken over locally; after NATS is back, claims work again', { skip }, async () => {
  const local = uid('loc');
  const held = await connect(nodes[1]!.url, persistent(local, 5));
  clients.push(held);
  await nats.stop();
  await eventually(async () => (await request(`${nodes[1]!.admin}/ready`)).status === 503, 10_000, 'node b knows NATS is gone');
  for (const version of [5, 4] as const) {
    const { c, connack } = await RawClient.connect(nodes[1]!.port, { version, clientId: uid('nonats'), clean: true }, { ok: false });
    assert.equal(connack.reasonCode ?? connack.returnCode, version === 5 ? 0x88 : 3);
    c.socket.destroy();
  }
  const { client: again, connack } = await connectClient(nodes[1]!.url, persistent(local, 5));
  clients.push(again);
  assert.equal(connack.sessionPresent, true, 'the local session, taken over on its own node');
  nats = await startNats(nats.port, natsDir);
  // Every node back (the tests after this one claim ids on all of them).
  for (const [i, n] of nodes.entries()) {
    await eventually(async () => (await request(`${n.admin}/ready`)).status === 200, 20_000, `node ${IDS[i]} ready again`);
    await eventually(async () => {
      try { const k = await connect(n.url, { version: 5, clientId: uid('back') }); clients.push(k); return true; } catch { return false; }
    }, 20_000, `a new client id accepted again on node ${IDS[i]}`);
  }
});

/**
 * A persistent session (subscribed to `topic/#` at QoS 2) moves from node a to node b while one
 * publisher per (node, QoS) of `sources` streams to it; every acknowledged message arrives, QoS 2
 * exactly once, in order per publisher, and the move ends by its markers.
 */
async function midStream(version: 4 | 5, sources: readonly (readonly [node: number, qos: 1 | 2])[]): Promise<void> {
  const id = uid(`ms${version}`);
  const topic = uid('ms');
  // The subscriber keeps its QoS 2 receiver state across its connections, as a client of a
  // persistent session must: a PUBLISH it acknowledged with PUBREC on node a is released by
  // the PUBREL node b sends after the move.
  const inbound = new mqtt.Store();
  const { c: first, got: onA } = await connectCollecting(nodes[0]!.url, persistent(id, version), inbound);
  await subscribe(first, `${topic}/#`, { qos: 2 });
  const probe = await connect(nodes[2]!.url);
  clients.push(probe);
  await routeVisible(probe, `${topic}/probe`, onA);
  const keys = sources.map(([n, qos]) => `${IDS[n]}${qos}`);
  const acked: string[][] = sources.map(() => []);
  /** Publishers the broker disconnected (an ack it could not give in time: they would resend), by stream. */
  const dropped: string[] = [];
  let stop = false;
  const streams = sources.map(async ([n, qos], k) => {
    let pub: MqttClient | null = null;
    for (let i = 0; !stop; i++) {
      // Only acknowledged messages count; a publisher whose ack failed connects again and goes on.
      try {
        pub ??= await connect(nodes[n]!.url, { version: 5 });
        await publish(pub, `${topic}/${keys[k]}`, `${keys[k]}-${i}`, { qos }, 10_000);
        acked[k]!.push(`${keys[k]}-${i}`);
      } catch (e) {
        dropped.push(`${keys[k]} at ${i}: ${(e as Error).message}`);
        pub?.end(true);
        pub = null;
      }
    }
    pub?.end(true);
  });
  const count = (c: ReturnType<typeof collect>, k: number, after = -1): number => c.messages.filter((m) => m.topic === `${topic}/${keys[k]}` && Number(m.payload.toString().slice(3)) > after).length;
  await eventually(() => keys.every((_, k) => count(onA, k) >= 20), 30_000, 'every stream reaches the session on node a');
  const { c: second, got: onB } = await connectCollecting(nodes[1]!.url, persistent(id, version), inbound);
  const atMove = acked.map((a) => a.length);
  // The move is over once messages published well after it arrive on node b.
  await eventually(() => keys.every((_, k) => count(onB, k, atMove[k]! + 30) > 0), 30_000, 'every stream reaches the session on node b').catch((e) => {
    stop = true;
    const about = nodes.flatMap((n) => n.stderr().split('\n').filter((l) => l.includes(id) || /"level":[4-6]0/.test(l))).map((l) => l.slice(0, 300));
    throw new Error(`${(e as Error).message}; the session's client on node b ${second.connected ? 'connected' : 'not connected'}; logs: ${about.join(' | ')}: ${keys.map((key, k) => `${key} acknowledged ${acked[k]!.length} (${atMove[k]} at the move), ${count(onB, k)} on node b`).join('; ')}; publishers dropped: ${dropped.join('; ') || 'none'}`);
  });
  stop = true;
  await Promise.all(streams);
  if (dropped.length > 0) {
    console.log(`# publishers disconnected without an ack (they would resend): ${dropped.join('; ')}`);
    for (const n of nodes) for (const l of n.stderr().split('\n')) if (/"level":[4-6]0|disconnected/.test(l) && !l.includes('SESSION_TAKEN_OVER')) console.log(`# ${l.slice(0, 400)}`);
  }
  const seen = (): string[] => [...onA.messages, ...onB.messages].map((m) => m.payload.toString());
  const missing = (): string[] => { const have = new Set(seen()); return acked.flat().filter((p) => !have.has(p)); };
  await eventually(() => missing().length === 0, 15_000, 'every acknowledged message delivered').catch(() => {});
  for (const [k, [n, qos]] of sources.entries()) {
    const mine = seen().filter((p) => p.startsWith(`${keys[k]}-`));
    const lost = acked[k]!.filter((p) => !mine.includes(p));
    const from = `QoS ${qos} from node ${IDS[n]}`;
    assert.deepEqual(lost, [], `${from}: ${lost.length} of ${acked[k]!.length} acknowledged messages lost`);
    const firsts = mine.filter((p, i) => mine.indexOf(p) === i).map((p) => Number(p.slice(3)));
    assert.deepEqual(firsts, [...firsts].sort((x, y) => x - y), `${from}: in order`);
    if (qos === 2) assert.equal(mine.length, new Set(mine).size, `${from}: exactly once`);
  }
  // The move ended by its markers, not by giving up on them.
  for (const n of nodes) assert.ok(!n.stderr().split('\n').some((l) => l.includes(id) && l.includes('not every marker came in time')), `node ${n.url}: the move of ${id} timed out`);
}

for (const version of [5, 4] as const) {
  test(`cluster takeover mid-stream v${version === 5 ? '5' : '3.1.1'}: a persistent session moves from node a to node b while publishers on node c stream QoS 1 and QoS 2; every acknowledged message arrives, QoS 2 exactly once, in order per publisher`, { skip }, async () => {
    await midStream(version, [[2, 1], [2, 2]]);
  });
}

test('cluster takeover mid-stream from every node: publishers on the old node, the new node and a third one stream QoS 1 and QoS 2 while the session moves; every acknowledged message arrives, QoS 2 exactly once, in order per publisher', { skip }, async () => {
  await midStream(5, [[0, 1], [0, 2], [1, 1], [1, 2], [2, 1], [2, 2]]);
});

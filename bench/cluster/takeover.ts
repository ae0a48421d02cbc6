// bench:cluster --takeover: how long a takeover across nodes takes, without and with traffic to
// the session (docs/cluster.md, "Messages on their way during a move"). Three nodes on one
// nats-server (--persistence fast, so QoS 1 acks wait for commits); a persistent v5 session with
// one QoS 1 subscription is moved between nodes 1 and 2, CONNECT to CONNACK timed; with traffic,
// a publisher on node 3 sends it QoS 1 at a fixed rate meanwhile, and what the session got is
// checked against what was acknowledged (missed, twice).
import os from 'node:os';
import mqtt, { type MqttClient } from 'mqtt';
import type { BrokerHandle } from '../brokers/types.ts';
import { nats, shoal } from './nodes.ts';

export interface TakeoverOptions { moves: number; rate: number; shards: number }

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor((s.length - 1) / 2)]!.toFixed(1)} ms (min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)}, n ${s.length})`;
};

function open(port: number, opts: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** `moves` takeovers of one session between nodes 1 and 2; CONNECT-to-CONNACK times. */
/** When each message was published (performance.now()), by its index; empty without traffic. */
const sentAt: number[] = [];

/**
 * `moves` takeovers of one session between nodes 1 and 2: CONNECT-to-CONNACK times, and (with
 * traffic) CONNACK to the first message published after it arriving: the move's end, since the
 * new node parks what its own routes bring until every node's marker is in.
 */
async function moveAround(ports: number[], id: string, topic: string, moves: number, got: Set<string>, dups: { n: number }, beforeEnd: () => Promise<void> = async () => {}): Promise<{ ms: number[]; live: number[] }> {
  const props = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } };
  const live: number[] = [];
  const collect = (c: MqttClient, since = -1): void => {
    let first = true;
    c.on('message', (_t, p) => {
      const s = p.toString();
      if (got.has(s)) dups.n++; else got.add(s);
      const at = sentAt[Number(s.slice(2))];
      if (first && since >= 0 && at !== undefined && at > since) { first = false; live.push(performance.now() - since); }
    });
  };
  let c = await open(ports[0]!, props);
  collect(c);
  await c.subscribeAsync(topic, { qos: 1 });
  const ms: number[] = [];
  for (let i = 0; i < moves; i++) {
    await new Promise((r) => setTimeout(r, 300)); // one move ends before the next starts
    const t0 = performance.now();
    const next = await open(ports[(i + 1) % 2]!, props);
    const connack = performance.now();
    ms.push(connack - t0);
    collect(next, connack);
    c.end(true);
    c = next;
  }
  await beforeEnd(); // the traffic stops while the session is still connected
  await new Promise((r) => setTimeout(r, 1000));
  c.end(true);
  return { ms, live };
}

export async function takeover(o: TakeoverOptions): Promise<string> {
  const n = await nats();
  const nodes: BrokerHandle[] = [];
  try {
    const name = `takeover_${process.pid}`;
    for (const id of ['node1', 'node2', 'node3']) {
      nodes.push(await shoal(id, o.shards, ['--cluster-name', name, '--cluster-node-id', id, '--cluster-nats', `nats://127.0.0.1:${n.port}`], 'fast'));
    }
    await new Promise((r) => setTimeout(r, 3000)); // every node sees the others (heartbeats)
    const ports = nodes.map((b) => b.port);
    const quiet = await moveAround(ports, `quiet-${process.pid}`, 'bench/quiet', o.moves, new Set(), { n: 0 });
    // With traffic: QoS 1 at a fixed rate from node 3, each acknowledged one recorded.
    const pub = await open(ports[2]!, { protocolVersion: 5 });
    const acked: string[] = [];
    let stop = false;
    const sending = (async () => {
      const gap = 1000 / o.rate;
      const t0 = performance.now();
      for (let i = 0; !stop; i++) {
        const wait = t0 + i * gap - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        sentAt[i] = performance.now();
        pub.publish('bench/busy', `m-${i}`, { qos: 1 }, (err) => { if (!err) acked.push(`m-${i}`); });
      }
    })();
    const got = new Set<string>();
    const dups = { n: 0 };
    const busy = await moveAround(ports, `busy-${process.pid}`, 'bench/busy', o.moves, got, dups, async () => {
      stop = true;
      await sending;
      await new Promise((r) => setTimeout(r, 500));
    });
    pub.end(true);
    // The route takes a moment to cross nodes after SUBACK: count from the first message that arrived.
    const idx = (m: string): number => Number(m.slice(2));
    const first = Math.min(...[...got].map(idx));
    const counted = acked.filter((m) => idx(m) >= first);
    const missed = counted.filter((m) => !got.has(m)).length;
    return [
      `bench:cluster --takeover: ${o.moves} takeovers each way between node 1 and node 2 (${o.shards} shards per node, --persistence fast); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      `without traffic: CONNECT to CONNACK ${stats(quiet.ms)}`,
      `with QoS 1 at ${o.rate} msg/s from node 3 to the session: CONNECT to CONNACK ${stats(busy.ms)}; CONNACK to the first message published after it ${stats(busy.live)}; ${counted.length} acknowledged, ${missed} of them missed by the session, ${dups.n} received twice`,
    ].join('\n');
  } finally {
    for (const b of nodes) await b.stop();
    await n.stop();
  }
}

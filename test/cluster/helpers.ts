// A real nats-server (Debian's, JetStream on) on a free port, and Shoal nodes joined to it as
// one cluster: what test/cluster/*.test.ts start. Without /usr/bin/nats-server the tests skip
// with a reason (.ci/run installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { freePort, startBroker, type Broker, type BrokerOptions } from '../helpers/broker.ts';
import { exited, killOnExit, stopChild } from '../helpers/child-process.ts';
import mqtt from 'mqtt';
import { endAll, eventually, publish, sleep, uid, withTimeout, type Collector, type MqttClient } from '../helpers/clients.ts';

// Debian installs it in /usr/sbin.
export const NATS_BIN = process.env.NATS_SERVER_BIN ?? ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((f) => existsSync(f)) ?? '/usr/sbin/nats-server';
export const natsMissing: string | false = existsSync(NATS_BIN) ? false : `${NATS_BIN} is not installed (Debian package nats-server)`;

export interface Nats { url: string; port: number; proc: ChildProcess; stop(): Promise<void> }

/** nats-server -js on a free loopback port, its store in a fresh directory; resolves once it answers. */
export async function startNats(port?: number, dir?: string): Promise<Nats> {
  const p = port ?? await freePort();
  const sd = dir ?? mkdtempSync(join(tmpdir(), 'shoal-nats-'));
  const proc = spawn(NATS_BIN, ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', sd], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000); });
  const url = `nats://127.0.0.1:${p}`;
  try {
    await eventually(() => err.includes('Server is ready') || exited(proc), 10_000, `nats-server on ${p}: ${err}`);
    if (exited(proc)) throw new Error(`nats-server exited: ${err}`);
  } catch (e) {
    await stopChild(proc, { signal: 'SIGKILL' });
    throw e;
  }
  return {
    url, port: p, proc,
    stop: async () => {
      await stopChild(proc);
      if (dir === undefined) rmSync(sd, { recursive: true, force: true });
    },
  };
}

/**
 * One Shoal node of cluster `name` on `nats`. A node's start also joins NATS (buckets, watches),
 * which under the suite's load (several nats-servers beside other suites on 2 cores) took more
 * than the helper's usual 10 s for "listening" twice in a row: up to the node's own
 * --start-timeout (30 s a step) then, and once more after that.
 */
export async function startNode(nats: Nats, name: string, nodeId: string, opts: BrokerOptions = {}): Promise<Broker> {
  const start = (): Promise<Broker> => startBroker({
    shards: 2, listenTimeoutMs: 30_000, ...opts,
    extraArgs: ['--cluster-name', name, '--cluster-node-id', nodeId, '--cluster-nats', nats.url, ...(opts.extraArgs ?? [])],
  });
  try {
    return await start();
  } catch (err) {
    if (!/did not print "listening on/.test((err as Error).message)) throw err;
    return start();
  }
}

/**
 * A route announced on one node reaches the others within milliseconds, but SUBACK does not
 * wait for it (docs/cluster.md): publish probes on `topic` from `pub` until `got` has one.
 */
export async function routeVisible(pub: MqttClient, topic: string, got: Collector | Collector[], ms = 10_000): Promise<void> {
  const all = Array.isArray(got) ? got : [got];
  await eventually(async () => {
    await publish(pub, topic, 'probe');
    await sleep(50);
    return all.every((g) => g.messages.some((m) => m.topic === topic && m.payload.toString() === 'probe'));
  }, ms, `a probe on ${topic} crossed nodes`, 0);
  // Probes still on their way must not land among the test's messages. Order per publisher
  // holds across nodes (docs/cluster.md): once a last, unique probe is in at every collector,
  // every earlier one is too, however slow the machine.
  const fence = `fence-${uid('f')}`;
  await publish(pub, topic, fence);
  await Promise.all(all.map((g) => g.waitFor(1, ms, (m) => m.topic === topic && m.payload.toString() === fence)));
  for (const g of all) g.clear();
}

export interface TestCluster {
  /** The cluster name (unique per file). */
  readonly name: string;
  readonly nodes: Broker[];
  /** Clients the test made: ended after the file. */
  readonly clients: MqttClient[];
  nats(): Nats;
  /** nats-server started again on its port and store (after a test stopped or killed it). */
  restartNats(): Promise<Nats>;
}

/**
 * A nats-server and one node per id for the whole test file (before/after hooks); nothing when
 * nats-server is missing. `opts` is every node's options, or a function of the node's id; the
 * server's store lives in one directory for the file, so that restartNats keeps it.
 */
export function useCluster(prefix: string, ids: string[], opts: BrokerOptions | ((id: string) => BrokerOptions) = {}): TestCluster {
  let nats: Nats | undefined;
  let dir: string | undefined;
  const c: TestCluster = {
    name: uid(prefix).replace(/[^A-Za-z0-9_-]/g, '_'), nodes: [], clients: [], nats: () => nats!,
    restartNats: async () => (nats = await startNats(nats!.port, dir)),
  };
  before(async () => {
    if (natsMissing) return;
    dir = mkdtempSync(join(tmpdir(), 'shoal-nats-'));
    nats = await startNats(undefined, dir);
    for (const id of ids) c.nodes.push(await startNode(nats, c.name, id, typeof opts === 'function' ? opts(id) : opts));
  });
  after(async () => {
    await endAll(c.clients);
    for (const n of c.nodes) await n.stop();
    await nats?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return c;
}

/** A persistent v5 publisher, connected, that reconnects by itself: its server DISCONNECTs by reason and how often its connection closed. */
export interface Publisher { pub: mqtt.MqttClient; disconnects: number[]; closes(): number }

export async function persistentPublisher(url: string, clients: MqttClient[]): Promise<Publisher> {
  const pub = mqtt.connect(url, { protocolVersion: 5, clientId: uid('pp'), clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 600 } });
  pub.on('error', () => {});
  const disconnects: number[] = [];
  let closes = 0;
  pub.on('disconnect', (p) => disconnects.push(p.reasonCode ?? -1));
  pub.on('close', () => { closes++; });
  clients.push(pub);
  await withTimeout(new Promise<void>((r) => pub.once('connect', () => r())), 10_000, 'the publisher connects');
  return { pub, disconnects, closes: () => closes };
}

/** Publishes `n` QoS `qos` messages numbered 0..n-1 on `topic` at once; resolves with the ms until all are acknowledged (rejects after `ms`). */
export async function acksWithin(pub: mqtt.MqttClient, topic: string, n: number, qos: 1 | 2, ms: number): Promise<number> {
  const t0 = performance.now();
  let acked = 0;
  const all = Promise.all(Array.from({ length: n }, (_, k) => new Promise<void>((res, rej) => pub.publish(topic, String(k), { qos }, (e) => { if (e) rej(e); else { acked++; res(); } }))));
  await withTimeout(all, ms, `${n} QoS ${qos} acks on ${topic} (${acked} in)`);
  return performance.now() - t0;
}

/** Messages numbered from 0 on `topic`, `perTick` every 5 ms until stop(); `acked`: those acknowledged (QoS 2: completed). */
export interface Stream { acked: Set<number>; sent(): number; stop(): Promise<void> }

export function stream(pub: mqtt.MqttClient, topic: string, qos: 1 | 2, perTick = 1): Stream {
  const acked = new Set<number>();
  let i = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      for (let b = 0; b < perTick; b++) {
        const k = i++;
        pub.publish(topic, String(k), { qos }, (err) => { if (!err) acked.add(k); });
      }
      await sleep(5);
    }
  })();
  return { acked, sent: () => i, stop: async () => { running = false; await done; } };
}

/** Every number in `completed` is in what `seen` returns (waited for up to 30 s), and none twice there: QoS 2 exactly once at `where`. */
export async function assertExactlyOnce(seen: () => number[], completed: Set<number>, where: string): Promise<void> {
  await eventually(() => { const s = new Set(seen()); return [...completed].every((k) => s.has(k)); }, 30_000, `every completed message at ${where}`).catch(() => {});
  const all = seen();
  const have = new Set(all);
  const missing = [...completed].filter((k) => !have.has(k));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${completed.size} completed QoS 2 messages missing at ${where}`);
  const twice = all.filter((v, k) => all.indexOf(v) !== k);
  assert.deepEqual(twice.slice(0, 10), [], `${twice.length} QoS 2 messages twice at ${where}`);
}

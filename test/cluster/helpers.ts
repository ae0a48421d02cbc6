// A real nats-server (Debian's, JetStream on) on a free port, and Shoal nodes joined to it as
// one cluster: what test/cluster/*.test.ts start. Without /usr/bin/nats-server the tests skip
// with a reason (.ci/run installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { freePort, startBroker, type Broker, type BrokerOptions } from '../helpers/broker.ts';
import { exited, killOnExit, stopChild } from '../helpers/child-process.ts';
import { endAll, eventually, publish, sleep, uid, type Collector, type MqttClient } from '../helpers/clients.ts';

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

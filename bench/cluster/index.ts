// bench:cluster — what a message costs to cross nodes (docs/cluster.md, BENCHMARKS.md): the
// loadtest with its publishers on node 1 and its subscribers on node 3 of a three-node cluster
// on one nats-server, against one node (no cluster) with the same load, in alternation. It
// reports the delivered rate and the CPU each process spent per message (from /proc), so the
// cross-node cost is the difference of the two per-message figures; and the model in
// BENCHMARKS.md turns those into what N nodes on separate machines would carry.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../brokers/repo-root.ts';
import type { BrokerHandle } from '../brokers/types.ts';
import { NATS, nats, shoal } from './nodes.ts';
import { takeover } from './takeover.ts';

const USAGE = `usage: npm run bench:cluster -- [--rounds N] [--shards N] [-- loadtest options]
       npm run bench:cluster -- --takeover [--moves N] [--rate R] [--shards N]
       --persistence memory|fast   every node's store (default memory; fast puts QoS 1/2 acks
                                   behind the commit gate, which waits for the other nodes)

Runs, --rounds times (default 3), in alternation:
  single   one Shoal node (--persistence, --shards N, default 1) with the loadtest
  cluster  nats-server -js and three Shoal nodes (each --shards N) on loopback; loadtest
           publishers on node 1, subscribers on node 3 (--sub-port), --settle 500
and prints the delivered rate and CPU microseconds per delivered message of each process.
Loadtest options after -- (default: --conns 20 --messages 20000 --protocol 3.1.1 --threads 1).
--takeover: three nodes (--persistence fast); a persistent v5 session with one QoS 1
subscription moved --moves times (default 20) between nodes 1 and 2, first without traffic,
then while a publisher on node 3 sends it QoS 1 at --rate messages/s (default 500); prints
CONNECT-to-CONNACK times and what the session missed or got twice.`;

const LOADTEST = path.join(repoRoot, 'bench', 'loadtest', 'index.ts');

interface Loadtest { rate: number; received: number; lost: number; elapsedMs: number }

function loadtest(args: string[]): Loadtest {
  // Exit code 1 is a run with losses: its report is still the figures.
  const p = spawnSync(process.execPath, [LOADTEST, ...args, '--json'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 24 });
  if (p.stdout === '') throw new Error(`loadtest gave no report (exit ${p.status}): ${p.stderr.slice(-500)}`);
  const r = JSON.parse(p.stdout) as { figures: { rate: number; received: number; lost: number; elapsedMs: number } };
  return { rate: r.figures.rate, received: r.figures.received, lost: r.figures.lost, elapsedMs: r.figures.elapsedMs };
}

interface Run { setup: 'single' | 'cluster'; rate: number; received: number; lost: number; cpu: Record<string, number> }

/** CPU seconds each handle spent while `work` ran. */
function measured<T>(handles: BrokerHandle[], work: () => T): { value: T; cpu: Record<string, number> } {
  const before = handles.map((h) => h.cpuSeconds() ?? 0);
  const value = work();
  const cpu: Record<string, number> = {};
  handles.forEach((h, i) => { cpu[h.name] = (h.cpuSeconds() ?? 0) - before[i]!; });
  return { value, cpu };
}

type Persistence = 'memory' | 'fast';

async function single(shards: number, lt: string[], persistence: Persistence): Promise<Run> {
  const b = await shoal('shoal', shards, [], persistence);
  try {
    const { value, cpu } = measured([b], () => loadtest(['--host', '127.0.0.1', '--port', String(b.port), ...lt]));
    return { setup: 'single', ...value, cpu };
  } finally { await b.stop(); }
}

async function cluster(shards: number, lt: string[], round: number, persistence: Persistence): Promise<Run> {
  const n = await nats();
  const nodes: BrokerHandle[] = [];
  try {
    const name = `bench${round}_${process.pid}`;
    for (const id of ['node1', 'node2', 'node3']) {
      nodes.push(await shoal(id, shards, ['--cluster-name', name, '--cluster-node-id', id, '--cluster-nats', `nats://127.0.0.1:${n.port}`], persistence));
    }
    const { value, cpu } = measured([...nodes, n], () => loadtest(['--host', '127.0.0.1', '--port', String(nodes[0]!.port), '--sub-port', String(nodes[2]!.port), '--settle', '500', ...lt]));
    return { setup: 'cluster', ...value, cpu };
  } finally {
    for (const b of nodes) await b.stop();
    await n.stop();
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!; };
const us = (cpu: number, msgs: number): number => (msgs > 0 ? (cpu * 1e6) / msgs : NaN);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const lt = sep < 0 ? ['--conns', '20', '--messages', '20000', '--protocol', '3.1.1', '--threads', '1'] : argv.slice(sep + 1);
  if (own.includes('--help') || own.includes('-h')) { console.log(USAGE); return; }
  const opt = (name: string, dflt: number): number => { const i = own.indexOf(name); return i < 0 ? dflt : Number(own[i + 1]); };
  const rounds = opt('--rounds', 3);
  const shards = opt('--shards', 1);
  const pi = own.indexOf('--persistence');
  const persistence = pi < 0 ? 'memory' : own[pi + 1];
  if (persistence !== 'memory' && persistence !== 'fast') { console.error(`bench:cluster: --persistence must be memory or fast\n\n${USAGE}`); process.exit(2); }
  if (NATS === undefined) { console.error('bench:cluster: nats-server is not installed (Debian package nats-server)'); process.exit(2); }
  if (own.includes('--takeover')) { console.log(await takeover({ moves: opt('--moves', 20), rate: opt('--rate', 500), shards: opt('--shards', 2) })); return; }
  const runs: Run[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (const run of [() => single(shards, lt, persistence), () => cluster(shards, lt, r, persistence)]) {
      const x = await run();
      runs.push(x);
      const cpu = Object.entries(x.cpu).map(([k, v]) => `${k} ${us(v, x.received).toFixed(1)}`).join(', ');
      console.error(`round ${r} ${x.setup}: ${Math.round(x.rate)} msg/s, ${x.received} delivered, ${x.lost} lost; CPU µs/msg: ${cpu}`);
    }
  }
  const of = (setup: Run['setup']): Run[] => runs.filter((x) => x.setup === setup);
  const shoalUs = (x: Run): number => us(Object.entries(x.cpu).filter(([k]) => k !== 'nats-server').reduce((a, [, v]) => a + v, 0), x.received);
  const natsUs = (x: Run): number => us(x.cpu['nats-server'] ?? 0, x.received);
  const s = of('single');
  const c = of('cluster');
  const lines = [
    `loadtest ${lt.join(' ')}; ${shards} shard(s) per node; --persistence ${persistence}; ${rounds} rounds; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; medians`,
    '',
    '| setup | delivered msg/s | Shoal CPU µs/msg | of which node 1 / node 3 | nats-server CPU µs/msg | total CPU µs/msg |',
    '|---|---:|---:|---:|---:|---:|',
    `| one node | ${Math.round(median(s.map((x) => x.rate)))} | ${median(s.map(shoalUs)).toFixed(1)} | | | ${median(s.map(shoalUs)).toFixed(1)} |`,
    `| node 1 → node 3 | ${Math.round(median(c.map((x) => x.rate)))} | ${median(c.map(shoalUs)).toFixed(1)} | ${median(c.map((x) => us(x.cpu.node1!, x.received))).toFixed(1)} / ${median(c.map((x) => us(x.cpu.node3!, x.received))).toFixed(1)} | ${median(c.map(natsUs)).toFixed(1)} | ${median(c.map((x) => shoalUs(x) + natsUs(x))).toFixed(1)} |`,
    '',
    `cross-node cost per message: ${(median(c.map((x) => shoalUs(x) + natsUs(x))) - median(s.map(shoalUs))).toFixed(1)} µs of CPU (Shoal ${(median(c.map(shoalUs)) - median(s.map(shoalUs))).toFixed(1)}, nats-server ${median(c.map(natsUs)).toFixed(1)})`,
  ];
  console.log(lines.join('\n'));
  if (runs.some((x) => x.lost > 0)) process.exitCode = 1;
}

await main();

// connect-burst: 1,000 CONNECTs with passwords beside a publisher/subscriber pair on one shard
// (issue #13), against Shoal and Debian's Mosquitto with the same password file ($7$ hashes from
// mosquitto_passwd), the brokers alternating run by run. The burst's clients are a separate
// process at nice 10 (measure.ts); the figure is the pair's publish→deliver p99 during the burst.
//   node bench/connect-burst/index.ts [--brokers shoal,mosquitto] [--runs 5] [--burst 1000]
//     [--no-passwords] [--hash-threads N] [--accept shards|main] [--nice N]
//     [--broker-node-options "--cpu-prof --cpu-prof-dir=DIR"]   (NODE_OPTIONS of Shoal's process)
//     [--broker-v8-flags "--trace-gc"]   (V8 flags set in Shoal's process at start: v8-flags.mjs)
//     [--alloc-profile DIR]   (what each worker thread allocated: alloc-prof.mjs, alloc-summary.mjs)
//     [--base DIR]   (also run the checkout in DIR as `shoal-base`, alternating: e.g. /work/main)
//     [--worst]   (the 5 slowest messages of each burst, for profile-summary.mjs --spans)
//     [--broker-output]   (print the broker's stdout and stderr after each run: --trace-gc lines)
//     [-- extra Shoal flags]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBrokerOf, type Broker } from '../../test/helpers/broker.ts';
import { measureBurst, type BurstResult } from './measure.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string', default: 'shoal,mosquitto' },
    runs: { type: 'string', default: '5' },
    burst: { type: 'string', default: '1000' },
    'no-passwords': { type: 'boolean', default: false },
    'hash-threads': { type: 'string', default: '1' },
    accept: { type: 'string', default: 'shards' },
    nice: { type: 'string', default: '10' },
    'broker-node-options': { type: 'string', default: '' },
    'broker-output': { type: 'boolean', default: false },
    worst: { type: 'boolean', default: false },
    'alloc-profile': { type: 'string', default: '' },
    'broker-v8-flags': { type: 'string', default: '' },
    base: { type: 'string', default: '' },
  },
});

const PAIR = { username: 'pair', password: 'pair-pw' };
const BURST_USER = { username: 'burst', password: 'burst-pw' };
const withPasswords = !values['no-passwords'];
const dir = mkdtempSync(join(tmpdir(), 'shoal-connect-burst-'));
const passwd = join(dir, 'passwd');
for (const [i, u] of [PAIR, BURST_USER].entries()) {
  const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', passwd, u.username, u.password], { encoding: 'utf8' });
  if (r.status !== 0) { console.error(`connect-burst: mosquitto_passwd failed: ${r.stderr.trim() || r.error?.message}`); process.exit(2); }
}

async function start(kind: string): Promise<Broker> {
  if (kind === 'mosquitto') {
    return startBrokerOf('mosquitto', { extraArgs: [
      // run as root, mosquitto drops to the `mosquitto` user, which cannot read root's temporary directory
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(withPasswords ? [`password_file ${passwd}`, 'allow_anonymous false'] : []),
    ] });
  }
  const args = ['--accept', values.accept, '--log-level', 'warn', '--connect-timeout', '60000', '--hash-threads', values['hash-threads'],
    ...(withPasswords ? ['--password-file', passwd] : []), ...positionals];
  const saved = { ...process.env };
  const nodeOptions = [values['broker-node-options']];
  if (values['broker-v8-flags']) {
    nodeOptions.push(`--import=${fileURLToPath(new URL('./v8-flags.mjs', import.meta.url))}`);
    process.env.BENCH_V8_FLAGS = values['broker-v8-flags'];
  }
  if (values['alloc-profile']) {
    nodeOptions.push(`--import=${fileURLToPath(new URL('./alloc-prof.mjs', import.meta.url))}`);
    process.env.BENCH_ALLOC_DIR = values['alloc-profile'];
  }
  if (nodeOptions.join('') !== '') process.env.NODE_OPTIONS = nodeOptions.join(' ').trim();
  try {
    // shoal-base: the same flags and profiling options, another checkout's broker; a loaded 2-core
    // machine has taken more than the default 10 s to start one
    return await startBrokerOf('shoal', { shards: 1, extraArgs: args, root: kind === 'shoal-base' ? values.base : undefined, listenTimeoutMs: 60_000 });
  } finally {
    process.env = saved;
  }
}

/**
 * --trace-gc lines of the isolate with the most of them (the shard's, in a burst): pauses over
 * the whole run (start-up and the pair are the same for every build; the burst is the rest).
 */
function gcSummary(out: string): string {
  const byIsolate = new Map<string, { kind: string; ms: number; before: number; after: number }[]>();
  for (const m of out.matchAll(/^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Mark-Compact|Incremental Mark-Compact|Minor Mark-Sweep) ([\d.]+) \([\d.]+\) -> ([\d.]+) .*?MB, ([\d.]+) \/ /gm)) {
    const l = byIsolate.get(m[1]!) ?? [];
    l.push({ kind: m[2]!, before: Number(m[3]), after: Number(m[4]), ms: Number(m[5]) });
    byIsolate.set(m[1]!, l);
  }
  const gcs = [...byIsolate.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const sc = gcs.filter((g) => g.kind === 'Scavenge');
  const mc = gcs.filter((g) => g.kind !== 'Scavenge');
  const sum = (xs: { ms: number }[]): number => xs.reduce((a, g) => a + g.ms, 0);
  // allocated: what the heap grew by between one GC's end and the next one's start
  let allocated = 0;
  for (let i = 1; i < gcs.length; i++) allocated += Math.max(0, gcs[i]!.before - gcs[i - 1]!.after);
  return `shard GC over the run: ${sc.length} scavenges, ${sum(sc).toFixed(1)} ms (max ${Math.max(0, ...sc.map((g) => g.ms)).toFixed(1)}); ${mc.length} mark-compacts, ${sum(mc).toFixed(1)} ms (max ${Math.max(0, ...mc.map((g) => g.ms)).toFixed(1)}); ~${allocated.toFixed(1)} MB allocated between them`;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const brokers = values.brokers.split(',');
if (values.base !== '' && !brokers.includes('shoal-base')) brokers.splice(brokers.indexOf('shoal') + 1, 0, 'shoal-base');
if (brokers.includes('shoal-base') && values.base === '') { console.error('connect-burst: shoal-base needs --base DIR (a checkout with node_modules)'); process.exit(2); }
const runs = Number(values.runs);
const burst = Number(values.burst);
const results = new Map<string, BurstResult[]>(brokers.map((b) => [b, []]));
const loads: number[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    for (const kind of brokers) {
      const b = await start(kind);
      try {
        loads.push(loadavg()[0]!);
        const r = await measureBurst({ url: b.url, port: b.port, burst, login: withPasswords ? BURST_USER : undefined, pairLogin: withPasswords ? PAIR : undefined, nice: Number(values.nice), brokerPid: b.pid });
        results.get(kind)!.push(r);
        console.log(`run ${run} ${kind}: p99 ${r.before.toFixed(1)} ms before, ${r.during.toFixed(1)} ms during (max ${r.max.toFixed(1)}, ${r.samples} messages), ${r.accepted}/${burst} accepted in ${r.burstMs} ms; pair process loop delay p99 ${r.ownDelayP99.toFixed(1)} ms; broker's busiest threads ${r.threadCpuMs.join(' / ')} ms CPU; load ${loads.at(-1)!.toFixed(1)}`);
        if (values.worst) console.log(`  burst (monotonic ms): ${r.burstMono[0].toFixed(1)}-${r.burstMono[1].toFixed(1)}`);
        if (values.worst) console.log(`  slowest (sent at, monotonic ms: latency): ${r.worst.map((w) => `${w.sentMono.toFixed(1)}: ${w.ms.toFixed(1)}`).join(', ')}`);
      } finally {
        await b.stop();
        if (values['broker-output']) process.stderr.write(b.stdout() + b.stderr());
        if (values['broker-v8-flags'].includes('--trace-gc')) console.log(`  ${gcSummary(b.stdout() + b.stderr())}`);
      }
    }
  }
  for (const [kind, rs] of results) {
    console.log(`${kind} (${rs.length} runs): median p99 before ${median(rs.map((r) => r.before)).toFixed(1)} ms, during ${median(rs.map((r) => r.during)).toFixed(1)} ms (runs: ${rs.map((r) => r.during.toFixed(1)).join(', ')}), burst ${median(rs.map((r) => r.burstMs))} ms, busiest thread's CPU ${median(rs.map((r) => r.threadCpuMs[0] ?? NaN))} ms (${(median(rs.map((r) => r.threadCpuMs[0] ?? NaN)) * 1000 / burst).toFixed(0)} µs per connection), accepted ${rs.map((r) => r.accepted).join(', ')}`);
  }
  console.log(`load average (1 min) at the runs' starts: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

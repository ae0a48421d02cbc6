// A CONNECT burst beside a publisher/subscriber pair (issue #13): the pair sends a QoS 0
// message every 2 ms and we take its publish→deliver latency over the second before the burst
// and while the burst's CONNECTs are being answered. Used by bench/connect-burst/index.ts
// (runs, Mosquitto beside Shoal, profiles) and test/security/connect-burst.test.ts.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { connect, endAll, sleep, subscribe } from '../../test/helpers/clients.ts';

const GENERATOR = fileURLToPath(new URL('./generator.mjs', import.meta.url));
const PAIR_PERIOD_MS = 2;
/** The burst never takes this long on a working broker; beyond it the run fails with a line. */
const BURST_LIMIT_MS = 60_000;

export interface BurstOptions {
  /** The broker's MQTT URL and port. */
  url: string;
  port: number;
  burst: number;
  /** The burst's CONNECTs carry this user name and password (none: no password). */
  login?: { username: string; password: string };
  /** The pair's login. */
  pairLogin?: { username: string; password: string };
  /** nice level of the generator process (it shares the cores with the broker). */
  nice?: number;
  /** The broker's process: its threads' CPU time over the burst is read from /proc (Linux). */
  brokerPid?: number;
}

export interface BurstResult {
  /** p99 of the pair's latency (ms) in the second before the burst, and during it. */
  before: number;
  during: number;
  /** Largest latency during the burst (ms). */
  max: number;
  /** The pair's messages during the burst. */
  samples: number;
  accepted: number;
  burstMs: number;
  /** This process's own event-loop delay p99 during the burst (ms): the pair's side of the wait. */
  ownDelayP99: number;
  /** The 5 slowest messages during the burst: when sent, on CLOCK_MONOTONIC in ms (the clock of a
   * --cpu-prof profile's timestamps: profile-summary.mjs --spans), and their latency. */
  worst: { sentMono: number; ms: number }[];
  /** The burst's start and end on CLOCK_MONOTONIC in ms (profile-summary.mjs --burst). */
  burstMono: [number, number];
  /** CPU ms (user + system) of the broker's busiest threads from the burst's start to its end + 50 ms, busiest first: less bent by other processes than the latencies. */
  threadCpuMs: number[];
}

/** Each thread's user + system time in ms (/proc/PID/task/TID/stat; {} where there is no /proc). */
function threadCpu(pid: number | undefined): Map<string, number> {
  const m = new Map<string, number>();
  if (pid === undefined) return m;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(tid, (Number(f[11]) + Number(f[12])) * 10); // utime, stime in ticks of 10 ms (USER_HZ 100)
    }
  } catch { /* not Linux, or the broker is gone */ }
  return m;
}

const monoMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

export function p99(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? NaN;
}

/** The burst's CONNECT (3.1.1, clean, empty client id: the broker assigns one). */
function connectPacket(login: BurstOptions['login']): Buffer {
  return mqttPacket.generate({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 60,
    ...(login ? { username: login.username, password: Buffer.from(login.password) } : {}),
  } as mqttPacket.IConnectPacket);
}

/** Runs one burst against a started broker; the pair connects first and leaves after. */
export async function measureBurst(o: BurstOptions): Promise<BurstResult> {
  const pub = await connect(o.url, { ...o.pairLogin });
  const sub = await connect(o.url, { ...o.pairLogin });
  const gen = spawn('nice', ['-n', String(o.nice ?? 10), process.execPath, GENERATOR, String(o.port), String(o.burst), connectPacket(o.login).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await subscribe(sub, 'lat/x');
    const lat: { at: number; ms: number; mono: number }[] = [];
    sub.on('message', (_t, payload) => {
      const now = performance.now();
      lat.push({ at: now, ms: now - payload.readDoubleBE(0), mono: monoMs() });
    });
    const payload = Buffer.alloc(8);
    const pump = setInterval(() => { payload.writeDoubleBE(performance.now()); pub.publish('lat/x', payload, { qos: 0 }); }, PAIR_PERIOD_MS);
    const ownDelay = monitorEventLoopDelay({ resolution: 1 });
    try {
      await sleep(1500); // the generator has started meanwhile; the second before is the baseline
      let out = '';
      const result = new Promise<{ ok: number; ms: number }>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`the burst of ${o.burst} CONNECTs was not answered within ${BURST_LIMIT_MS} ms`)), BURST_LIMIT_MS);
        gen.stdout!.on('data', (d: Buffer) => { out += d; if (out.includes('\n')) { clearTimeout(t); res(JSON.parse(out) as { ok: number; ms: number }); } });
        gen.once('exit', (code) => { clearTimeout(t); rej(new Error(`burst generator exited (${code}) before answering`)); });
      });
      const burstStart = performance.now();
      const monoStart = monoMs();
      const cpuStart = threadCpu(o.brokerPid);
      ownDelay.enable();
      gen.stdin!.write('go\n');
      const r = await result;
      const burstEnd = performance.now();
      const monoEnd = monoMs();
      ownDelay.disable();
      await sleep(50);
      const cpuEnd = threadCpu(o.brokerPid);
      const threadCpuMs = [...cpuEnd].map(([tid, ms]) => ms - (cpuStart.get(tid) ?? 0)).sort((a, b) => b - a).slice(0, 3);
      await sleep(50);
      const before = lat.filter((l) => l.at < burstStart && l.at > burstStart - 1000).map((l) => l.ms);
      const inBurst = lat.filter((l) => l.at >= burstStart && l.at <= burstEnd + 50);
      const during = inBurst.map((l) => l.ms);
      const worst = [...inBurst].sort((a, b) => b.ms - a.ms).slice(0, 5).map((l) => ({ sentMono: l.mono - l.ms, ms: l.ms }));
      return {
        before: p99(before), during: p99(during), max: Math.max(...during), samples: during.length,
        accepted: r.ok, burstMs: r.ms, ownDelayP99: ownDelay.percentile(99) / 1e6, worst, burstMono: [monoStart, monoEnd], threadCpuMs,
      };
    } finally {
      clearInterval(pump);
    }
  } finally {
    gen.stdin!.end(); // the generator closes its sockets and exits
    gen.kill();
    await endAll([pub, sub]);
  }
}

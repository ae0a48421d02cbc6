// Start the broker under test as a child process: Shoal by default, Mosquitto (the reference
// implementation) when SHOAL_TEST_BROKER=mosquitto. Every test file talks to it over TCP on
// 127.0.0.1 only; nothing here knows Shoal's internals.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, killOnExit, stopChild } from './child-process.ts';
import { freePort, waitListening } from './ports.ts';

export { freePort };

export type BrokerKind = 'shoal' | 'mosquitto';

/** Which broker the suite runs against (env SHOAL_TEST_BROKER=mosquitto selects Mosquitto). */
export const brokerKind: BrokerKind = process.env.SHOAL_TEST_BROKER === 'mosquitto' ? 'mosquitto' : 'shoal';
export const isMosquitto = brokerKind === 'mosquitto';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOAL_BIN = join(REPO_ROOT, 'bin', 'shoal.js');
const LISTEN_TIMEOUT_MS = 30_000; // a loaded 2-core CI box took more than 10 s to start a broker (the type stripper runs in every isolate)
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_LIMIT = 1 << 20; // keep the last 1 MiB of each stream

export interface BrokerOptions {
  shards?: number;
  persistence?: 'memory' | 'fast' | 'durable';
  /** Data directory; when absent a temporary one is made and removed on stop. */
  dataDir?: string;
  /** $SYS publication interval in seconds. */
  sysInterval?: number;
  /** Shoal only: enable `$SHOAL/test/...` hooks. */
  testHooks?: boolean;
  /** Largest accepted packet in bytes (Shoal `--max-packet-size`, Mosquitto `max_packet_size`). */
  maxPacketSize?: number;
  /** Extra command-line arguments (Shoal) or extra config lines (Mosquitto). */
  extraArgs?: string[];
  /** Shoal only: another checkout of Shoal to run (its bin/shoal.js, in its directory), for a before/after; default this one. */
  root?: string;
  /** Shoal only: how long to wait for its "listening on" line (a cluster node joins NATS first). */
  listenTimeoutMs?: number;
}

export interface Broker {
  kind: BrokerKind;
  host: string;
  port: number;
  url: string;
  /** Shoal: every listener of the start-up line by scheme (mqtt, mqtts, ws, wss) → its URL. */
  urls: Record<string, string>;
  pid: number;
  proc: ChildProcess;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); resolves the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
  /** Send a signal and wait for the process to exit. */
  kill(sig?: NodeJS.Signals): Promise<void>;
  /** True while the process has not exited. */
  alive(): boolean;
  stdout(): string;
  stderr(): string;
}

// Data directories of brokers still running when this process exits (killOnExit ends those).
const liveTmp = new Set<string>();
process.on('exit', () => {
  for (const tmp of liveTmp) rmSync(tmp, { recursive: true, force: true });
});

function appendCapped(prev: string, chunk: string): string {
  const next = prev + chunk;
  return next.length > OUTPUT_LIMIT ? next.slice(next.length - OUTPUT_LIMIT) : next;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  if (brokerKind === 'mosquitto') {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try { return await startMosquitto(opts); } catch (e) { lastErr = e; }
    }
    throw lastErr;
  }
  return startShoal(opts);
}

/** Starts the named broker whatever SHOAL_TEST_BROKER says (differential tests need both). */
export async function startBrokerOf(kind: BrokerKind, opts: BrokerOptions = {}): Promise<Broker> {
  if (kind === 'shoal') return startShoal(opts);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try { return await startMosquitto(opts); } catch (e) { lastErr = e; }
  }
  throw lastErr;
}

interface Spawned { proc: ChildProcess; tmp?: string; out: { stdout: string; stderr: string } }

function spawnCaptured(cmd: string, args: string[], tmp: string | undefined, cwd: string): Spawned {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  const out = { stdout: '', stderr: '' };
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => { out.stdout = appendCapped(out.stdout, d); });
  proc.stderr!.on('data', (d: string) => { out.stderr = appendCapped(out.stderr, d); });
  killOnExit(proc);
  if (tmp) {
    liveTmp.add(tmp);
    proc.once('exit', () => liveTmp.delete(tmp));
  }
  return { proc, tmp, out };
}

function makeBroker(kind: BrokerKind, s: Spawned, port: number, ownTmp: string | undefined, urls: Record<string, string> = {}): Broker {
  const { proc, out } = s;
  const cleanup = () => { if (ownTmp) rmSync(ownTmp, { recursive: true, force: true }); };
  let stopped: Promise<number | null> | undefined;
  return {
    kind,
    host: '127.0.0.1',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    urls,
    pid: proc.pid!,
    proc,
    alive: () => !exited(proc),
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    stop() {
      stopped ??= (async () => {
        const r = await stopChild(proc, { graceMs: STOP_TIMEOUT_MS });
        cleanup();
        if (r.how !== 'exited') throw new Error(`${kind} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (${r.how})\nstderr:\n${out.stderr.slice(-4000)}`);
        return proc.exitCode;
      })();
      return stopped;
    },
    async kill(sig: NodeJS.Signals = 'SIGKILL') {
      await stopChild(proc, { signal: sig, graceMs: STOP_TIMEOUT_MS });
      cleanup();
    },
  };
}

async function startShoal(opts: BrokerOptions): Promise<Broker> {
  const ownTmp = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'shoal-test-'));
  const dataDir = opts.dataDir ?? ownTmp!;
  const args = [
    opts.root === undefined ? SHOAL_BIN : join(opts.root, 'bin', 'shoal.js'),
    '--host', '127.0.0.1',
    '--port', '0',
    '--shards', String(opts.shards ?? 1),
    '--persistence', opts.persistence ?? 'memory',
    '--data-dir', dataDir,
  ];
  if (opts.sysInterval !== undefined) args.push('--sys-interval', String(opts.sysInterval));
  if (opts.maxPacketSize !== undefined) args.push('--max-packet-size', String(opts.maxPacketSize));
  if (opts.testHooks) args.push('--test-hooks');
  // Main accepts in tests unless a test says otherwise: many tests arrange which shard a client
  // lands on (least-loaded placement); with --accept shards (the Linux default) the kernel
  // hashes. SHOAL_TEST_ACCEPT=shards runs the suite the other way (test/sharding/accept-shards
  // covers that mode in every run).
  if (!opts.extraArgs?.includes('--accept')) args.push('--accept', process.env.SHOAL_TEST_ACCEPT ?? 'main');
  if (opts.extraArgs) args.push(...opts.extraArgs);
  const s = spawnCaptured(process.execPath, args, ownTmp, opts.root ?? REPO_ROOT);
  const port = await new Promise<number>((res, rej) => {
    let settled = false;
    const finish = (err: Error | null, p?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.proc.stdout!.off('data', onData);
      s.proc.off('exit', onExit);
      if (err) rej(err); else res(p!);
    };
    const onData = () => {
      const m = /listening on mqtt:\/\/[^\s:]+:(\d+)/.exec(s.out.stdout);
      if (m) finish(null, Number(m[1]));
    };
    const onExit = (code: number | null, sig: string | null) => {
      finish(new Error(`shoal exited before listening (code ${code}, signal ${sig}); args: ${args.slice(1).join(' ')}\nstderr:\n${s.out.stderr.slice(-4000)}\nstdout:\n${s.out.stdout.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      s.proc.kill('SIGKILL');
      finish(new Error(`shoal did not print "listening on mqtt://…" within ${opts.listenTimeoutMs ?? LISTEN_TIMEOUT_MS} ms\nstderr:\n${s.out.stderr.slice(-4000)}\nstdout:\n${s.out.stdout.slice(-2000)}`));
    }, opts.listenTimeoutMs ?? LISTEN_TIMEOUT_MS);
    s.proc.stdout!.on('data', onData);
    s.proc.once('exit', onExit);
    onData();
  }).catch((e) => {
    if (ownTmp) rmSync(ownTmp, { recursive: true, force: true });
    throw e;
  });
  // `listening on mqtt://127.0.0.1:P, mqtts://127.0.0.1:P, ws://127.0.0.1:P/path (…)`
  const urls: Record<string, string> = {};
  const line = /listening on ([^(]*)\(/.exec(s.out.stdout)?.[1] ?? '';
  for (const m of line.matchAll(/(\w+):\/\/([^\s,:]+):(\d+)(\/[^\s,]*)?/g)) urls[m[1]!] = `${m[1]}://127.0.0.1:${m[3]}${m[4] ?? ''}`;
  return makeBroker('shoal', s, port, ownTmp, urls);
}

async function startMosquitto(opts: BrokerOptions): Promise<Broker> {
  if (!existsSync(MOSQUITTO_BIN)) throw new Error(`SHOAL_TEST_BROKER=mosquitto but ${MOSQUITTO_BIN} is missing`);
  const ownTmp = mkdtempSync(join(tmpdir(), 'shoal-mosq-'));
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    // Spec behaviour, not a resource policy: never drop queued QoS>0 messages in the tests.
    'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  if (opts.sysInterval !== undefined) conf.push(`sys_interval ${opts.sysInterval}`);
  if (opts.maxPacketSize !== undefined) conf.push(`max_packet_size ${opts.maxPacketSize}`);
  if (opts.extraArgs) conf.push(...opts.extraArgs);
  const confPath = join(ownTmp, 'mosquitto.conf');
  writeFileSync(confPath, conf.join('\n') + '\n');
  const s = spawnCaptured(MOSQUITTO_BIN, ['-c', confPath], ownTmp, ownTmp);
  try {
    await waitListening(port, LISTEN_TIMEOUT_MS, 'mosquitto', () => exited(s.proc));
  } catch (e) {
    await stopChild(s.proc, { signal: 'SIGKILL' });
    rmSync(ownTmp, { recursive: true, force: true });
    throw new Error(`${(e as Error).message} (code ${s.proc.exitCode})\nstderr:\n${s.out.stderr.slice(-4000)}`);
  }
  return makeBroker('mosquitto', s, port, ownTmp);
}

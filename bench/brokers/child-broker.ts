// Starts a broker as a child process and turns it into a BrokerHandle. Each broker is its
// own process so its CPU and memory are measured apart from the tool and from this script.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerHandle } from './types.ts';
import { procCpuSeconds, procPeakRssBytes } from './proc-stats.ts';
import { waitForListen } from './tcp.ts';

export interface ChildBrokerSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  /** the child's environment (default: this process's) */
  env?: NodeJS.ProcessEnv;
  /** reads the port from an output line (brokers that bind port 0 and print it) */
  portFromLine?: (line: string) => number | null;
  /** the port chosen in advance; readiness is then a successful TCP connect */
  port?: number;
  startTimeoutMs: number;
  /** removes temp files; runs after the process is gone */
  cleanup?: () => void;
}

const TAIL_CHARS = 8192;
const STOP_GRACE_MS = 5000;

// Brokers still running when this process exits (crash, Ctrl-C) are killed, so a failed
// comparison never leaves a broker holding a port or a core.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/** the output line most likely to say why a start failed: the last error, else the last line */
function telling(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.findLast((l) => /error/i.test(l)) ?? lines.at(-1);
  return line ? line.slice(0, 300) : '(no output)';
}

export async function startChildBroker(spec: ChildBrokerSpec): Promise<BrokerHandle> {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let tail = '';
  let exited: string | null = null;
  let resolvePort: (port: number) => void = () => {};
  const portFromOutput = new Promise<number>((resolve) => (resolvePort = resolve));

  // Both streams are always drained: a broker that logs into a full pipe would stall.
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-TAIL_CHARS);
      if (!spec.portFromLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const port = spec.portFromLine(line);
        if (port !== null) resolvePort(port);
      }
    });
  }
  const exitPromise = once(child, 'exit').then(([code, signal]) => {
    exited = signal ? `killed by ${String(signal)}` : `exited with code ${String(code)}`;
  });
  const spawnError = once(child, 'error').then(([err]) => {
    exited = `could not start: ${(err as Error).message}`;
  });

  const deadline = Date.now() + spec.startTimeoutMs;
  const ready: Promise<number | null> =
    spec.port !== undefined
      ? waitForListen(spec.port, deadline, () => exited !== null).then((ok) => (ok ? (spec.port ?? null) : null))
      : portFromOutput;
  // Unref'd timers: a pending timeout must not keep the comparison alive once it is done.
  const timeout = sleep(spec.startTimeoutMs, null, { ref: false });
  const port = await Promise.race([ready, exitPromise.then(() => null), spawnError.then(() => null), timeout]);

  const pid = child.pid ?? -1;
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (exited === null && child.exitCode === null) {
        child.kill('SIGTERM');
        const graceful = await Promise.race([exitPromise.then(() => true), sleep(STOP_GRACE_MS, false, { ref: false })]);
        if (!graceful) {
          child.kill('SIGKILL');
          await exitPromise;
        }
      }
      spec.cleanup?.();
    })();
    return stopped;
  };

  if (port === null || exited !== null) {
    await stop();
    const why = exited ?? `did not accept connections within ${spec.startTimeoutMs} ms`;
    throw new Error(`${spec.name} ${why}: ${telling(tail)}`);
  }
  return {
    name: spec.name,
    port,
    pid,
    cpuSeconds: () => procCpuSeconds(pid),
    peakRssBytes: () => procPeakRssBytes(pid),
    output: () => tail,
    died: () => (exited !== null && stopped === null ? `${exited} (${telling(tail)})` : null),
    stop,
  };
}

// Stopping a child process a test started, in bounded time. `node --test` waits for every test
// file's process to exit, and a child (a broker, redis-server, nats-server, mosquitto, postgres)
// is a ref'd handle: one that ignores or is slow to act on SIGTERM, awaited with a bare
// `once(proc, 'exit')`, holds the whole run. Every test-side stop goes through stopChild.
import type { ChildProcess } from 'node:child_process';

/** How long a child gets to act on the polite signal before SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** How long SIGKILL may take to be reaped (a process in uninterruptible sleep may take longer). */
const KILL_WAIT_MS = 5_000;

export interface StopOptions {
  /** The polite signal (default SIGTERM); SIGKILL skips the grace period. */
  signal?: NodeJS.Signals;
  /** Wait this long after `signal` before SIGKILL. */
  graceMs?: number;
  /** Send the polite signal to this pid instead of the child's own (e.g. the postmaster under runuser, which does not pass signals on); SIGKILL goes to both. */
  signalPid?: number;
}

export interface Stopped {
  /** `exited`: it acted on the signal; `killed`: SIGKILL after the grace period; `lost`: not reaped even then (its handle is let go). */
  how: 'exited' | 'killed' | 'lost';
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the first signal to the exit (or to giving up). */
  ms: number;
}

export function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Resolves true once the child has exited, false after `ms` (leaves no timer or listener behind). */
export function waitExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (exited(proc)) return Promise.resolve(true);
  return new Promise((res) => {
    const on = (): void => { clearTimeout(t); res(true); };
    const t = setTimeout(() => { proc.off('exit', on); res(exited(proc)); }, ms);
    proc.once('exit', on);
  });
}

const tracked = new Set<ChildProcess>();
let hooked = false;

/**
 * SIGKILL `proc` if this process exits first: a test stuck past its timeout never reaches its
 * `finally`, and `--test-force-exit` then ends the file's process; its servers must not outlive it.
 */
export function killOnExit(proc: ChildProcess): void {
  if (!hooked) { hooked = true; process.on('exit', killTracked); }
  tracked.add(proc);
  proc.once('exit', () => tracked.delete(proc));
}

function killTracked(): void {
  for (const p of tracked) send(p.pid, 'SIGKILL');
}

function send(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try { process.kill(pid, sig); } catch { /* gone already */ }
}

/**
 * `signal` (SIGTERM), at most `graceMs` for the child to exit, then SIGKILL and at most a few
 * seconds more: never longer than that in all. A child that is not reaped even after SIGKILL is
 * unref'd with its pipes destroyed, so it cannot keep this process alive either.
 */
export async function stopChild(proc: ChildProcess, opts: StopOptions = {}): Promise<Stopped> {
  const { signal = 'SIGTERM', graceMs = STOP_GRACE_MS, signalPid } = opts;
  const t0 = Date.now();
  const result = (how: Stopped['how']): Stopped => ({ how, code: proc.exitCode, signal: proc.signalCode, ms: Date.now() - t0 });
  if (exited(proc)) return result('exited');
  if (signal !== 'SIGKILL') {
    send(signalPid ?? proc.pid, signal);
    if (await waitExit(proc, graceMs)) return result('exited');
  }
  send(signalPid, 'SIGKILL');
  send(proc.pid, 'SIGKILL');
  if (await waitExit(proc, KILL_WAIT_MS)) return result(signal === 'SIGKILL' ? 'exited' : 'killed');
  proc.unref();
  for (const s of [proc.stdin, proc.stdout, proc.stderr]) s?.destroy();
  return result('lost');
}

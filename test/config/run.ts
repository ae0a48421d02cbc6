// Runs bin/shoal.js as a child process, as an operator would: to completion (help, version,
// print-config, refusals) or until its start line (then it is stopped).
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const SHOAL_BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'shoal.js');
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface Ran { code: number | null; stdout: string; stderr: string }

/** The environment without the caller's SHOAL_ settings (SHOAL_TEST_* stays), plus `extra`. */
export function envWith(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (!k.startsWith('SHOAL_') || k.startsWith('SHOAL_TEST_'))) env[k] = v;
  return { ...env, ...extra };
}

/** Runs to completion (20 s at most: a run that takes longer is a hang, and fails the test). */
export function run(args: string[], env: Record<string, string> = envWith(), timeout = 20_000): Ran {
  const r = spawnSync(process.execPath, [SHOAL_BIN, ...args], { encoding: 'utf8', env, cwd: REPO_ROOT, timeout, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the broker, resolves its start line, then stops it (SIGTERM) and resolves its exit too. */
export function startLineOf(args: string[], env: Record<string, string> = envWith(), timeout = 20_000): Promise<{ line: string; code: number | null; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [SHOAL_BIN, ...args], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let line: string | null = null;
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`no start line within ${timeout} ms\nstdout: ${out}\nstderr: ${err}`)); }, timeout);
    p.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^shoal .* listening on .*$/m.exec(out);
      if (m && line === null) { line = m[0]; p.kill('SIGTERM'); }
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (line === null) rej(new Error(`exited (${code}) before its start line\nstdout: ${out}\nstderr: ${err}`));
      else res({ line, code, stderr: err });
    });
  });
}

/** Common flags for a quick start on loopback. */
export const QUICK = ['--host', '127.0.0.1', '--port', '0', '--shards', '1', '--persistence', 'memory', '--accept', 'main'];

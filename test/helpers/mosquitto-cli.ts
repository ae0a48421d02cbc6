// Run the Mosquitto command-line clients (mosquitto_pub, mosquitto_sub) from tests: to
// completion with a timeout, or a subscriber that is known to hold its subscription.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface Run { code: number | null; stdout: string; stderr: string }

/** Run a command to completion, killing it after `timeout` ms. */
export function run(cmd: string, args: string[], timeout = 10_000): Promise<Run> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`${cmd} ${args.join(' ')} timed out after ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`)); }, timeout);
    p.on('error', (e) => { clearTimeout(t); rej(e); });
    p.on('close', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
  });
}

// mosquitto_sub block-buffers stdout into a pipe; stdbuf -oL makes its debug lines (SUBACK)
// visible as they happen. Without stdbuf, fall back to a fixed pause after start.
const hasStdbuf = spawnSync('sh', ['-c', 'command -v stdbuf']).status === 0;

/** Start mosquitto_sub and resolve once its SUBACK arrived (debug output), with the final result promise. */
export function startSub(args: string[], timeout = 10_000): Promise<{ proc: ChildProcess; done: Promise<Run> }> {
  return new Promise((resolveStarted, rejectStarted) => {
    const proc = hasStdbuf
      ? spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('mosquitto_sub', ['-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (!hasStdbuf) setTimeout(() => { if (!started) { started = true; resolveStarted({ proc, done }); } }, 1500);
    let stdout = '';
    let stderr = '';
    let started = false;
    const t = setTimeout(() => { proc.kill('SIGKILL'); }, timeout);
    const done = new Promise<Run>((res) => {
      proc.on('close', (code) => {
        clearTimeout(t);
        if (!started) rejectStarted(new Error(`mosquitto_sub ended before its SUBACK (code ${code})\nstdout: ${stdout}\nstderr: ${stderr}`));
        res({ code, stdout, stderr });
      });
    });
    proc.stdout!.on('data', (d) => {
      stdout += d;
      if (!started && /received SUBACK/.test(stdout)) { started = true; resolveStarted({ proc, done }); }
    });
    proc.stderr!.on('data', (d) => { stderr += d; });
    proc.on('error', (e) => { clearTimeout(t); rejectStarted(e); });
  });
}

/** Data lines printed with -F 'DATA|%t|%q|%r|%p' (debug lines do not). */
export const dataLines = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('DATA|')).map((l) => l.slice(5));

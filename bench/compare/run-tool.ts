// Runs one load tool as a child process against one broker and collects what it printed.
// A child, not an import: the tool's own CPU work and memory stay out of this process,
// and a tool that hangs or crashes costs one run, not the comparison.
import { spawn } from 'node:child_process';

export interface ToolRun {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderrTail: string;
  timedOut: boolean;
  wallMs: number;
}

const STDERR_TAIL = 4096;
const STDOUT_CAP = 16 * 1024 * 1024;

export function runTool(toolPath: string, port: number, extraArgs: readonly string[], timeoutMs: number): Promise<ToolRun> {
  const started = performance.now();
  const args = [toolPath, '--host', '127.0.0.1', '--port', String(port), ...extraArgs, '--json'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderrTail = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    if (stdout.length < STDOUT_CAP) stdout += chunk;
  });
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL);
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    const finish = (exitCode: number | null, signal: string | null) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderrTail, timedOut, wallMs: performance.now() - started });
    };
    child.once('error', (err) => {
      stderrTail += `\n${err.message}`;
      finish(null, null);
    });
    // 'close', not 'exit': stdout must be fully read before the JSON is parsed.
    child.once('close', (code, signal) => finish(code, signal));
  });
}

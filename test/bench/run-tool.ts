// Runs a bench tool as a child process on this Node (the tests' broker lives in the parent,
// so the child must not block it: always asynchronous).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(tool: 'loadtest' | 'pingtest' | 'many' | 'isolation', args: string[], timeoutMs = 30_000): Promise<ToolRun> {
  const script = fileURLToPath(new URL(`../../bench/${tool}/index.ts`, import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface JsonReport {
  tool: string;
  version: number;
  params: Record<string, unknown>;
  env: { broker: string; node: string; cpu: string; cores: number; git: string | null; time: string };
  figures: {
    connectMs: number; connectRate: number; elapsedMs: number; sent: number; received: number; expected: number;
    rate: number; lost: number; duplicated: number; outOfOrder: number;
    latency: { unit: string; count: number; min: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
    connections: number; connectFailures: Record<string, number>; brokerRssPerConnBytes: number | null;
  };
  gate: { expr: string; pass: boolean; results: { term: string; actual: number | null; pass: boolean }[] } | null;
  pass: boolean;
  error: { code: string; message: string } | null;
}

/** --json must print exactly one JSON object and nothing else on stdout. */
export function parseReport(stdout: string): JsonReport {
  const lines = stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line of JSON on stdout, got ${lines.length}:\n${stdout}`);
  return JSON.parse(lines[0]) as JsonReport;
}

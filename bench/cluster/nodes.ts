// The processes bench:cluster starts: Shoal nodes (bin/shoal.js) and nats-server, each on a free loopback port.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startChildBroker } from '../brokers/child-broker.ts';
import { repoRoot } from '../brokers/repo-root.ts';
import type { BrokerHandle } from '../brokers/types.ts';

export const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((f) => existsSync(f));
const LISTENING = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

export function shoal(name: string, shards: number, extra: string[] = [], persistence: 'memory' | 'fast' = 'memory'): Promise<BrokerHandle> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-cluster-'));
  return startChildBroker({
    name, command: process.execPath, cwd: repoRoot, startTimeoutMs: 60_000,
    args: [path.join(repoRoot, 'bin', 'shoal.js'), '--host', '127.0.0.1', '--port', '0', '--shards', String(shards), '--persistence', persistence, '--data-dir', dataDir, '--log-level', 'warn', ...extra],
    portFromLine: (line) => { const m = LISTENING.exec(line); return m ? Number(m[1]) : null; },
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  });
}

export async function nats(): Promise<BrokerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-nats-'));
  return startChildBroker({ name: 'nats-server', command: NATS!, args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], port, startTimeoutMs: 20_000, cleanup: () => rmSync(dir, { recursive: true, force: true }) });
}


// Broker entry: parse flags, start the shards, listen, publish $SYS, stop gracefully on signals.
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { parseArgs, usage } from '../shared/config.ts';
import { ShoalError } from '../shared/errors.ts';
import { StatsBlock } from '../shared/stats.ts';
import { loadTlsMaterial, type TlsMaterial, type Transport } from '../shared/tls.ts';
import { listen, listenInShards, type Listening } from './listeners.ts';
import { ShardSupervisor } from './shards.ts';
import { SysPublisher } from './sys.ts';
import { startAdminPort } from './admin/index.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

let parsed;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`shoal: ${(err as Error).message}`);
  process.exit(2);
}
if (parsed.help) {
  console.log(usage());
  process.exit(0);
}
const config = parsed.config;
const log = pino({ level: config.logLevel, base: null }, pino.destination(2));

function fail(err: unknown): string {
  return `shoal: ${(err as Error).message}${err instanceof ShoalError ? ` (${err.code})` : ''}`;
}

let tls: TlsMaterial | null;
try {
  tls = loadTlsMaterial(config);
} catch (err) {
  console.error(fail(err));
  process.exit(1);
}

const stats = new StatsBlock(config.shards);
const shards = new ShardSupervisor(config, stats, log, tls);
// Before the shards start, so /ready can say "starting" (docs/operations.md).
const admin = await startAdminPort(config, { stats, shards, version: pkg.version, log }).catch((err: unknown) => { console.error(fail(err)); process.exit(1); });
try {
  await shards.start();
} catch (err) {
  console.error(fail(err));
  await shards.stop(1000);
  process.exit(1);
}

// Plain TCP first: the start-up line names it first (tools parse `listening on mqtt://host:port`).
const wanted: [Transport, number | null, string][] = [
  ['tcp', config.port, 'mqtt'], ['tls', config.tlsPort, 'mqtts'], ['ws', config.wsPort, 'ws'], ['wss', config.wssPort, 'wss'],
];
const servers: Listening[] = [];
const urls: string[] = [];
try {
  for (const [transport, port, scheme] of wanted) {
    if (port === null) continue;
    const server = transport === 'tcp' && config.accept === 'shards'
      ? await listenInShards(config.host, port, shards)
      : await listen(transport, config.host, port, shards);
    servers.push(server);
    const addr = server.address() as AddressInfo;
    urls.push(`${scheme}://${addr.address}:${addr.port}${transport === 'ws' || transport === 'wss' ? config.wsPath : ''}`);
  }
} catch (err) {
  console.error(fail(err));
  for (const s of servers) s.close();
  await shards.stop(1000);
  process.exit(1);
}
const sys = new SysPublisher(stats, shards, pkg.version);
sys.start(config.sysInterval);
admin?.listening();
if (admin) urls.push(admin.url);
console.log(`shoal ${pkg.version} listening on ${urls.join(', ')} (${config.shards} shards, persistence ${config.persistence}${config.persistence === 'memory' ? '' : `, data ${config.dataDir}`})`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  admin?.stopping();
  log.info({ signal }, 'shutting down');
  sys.stop();
  for (const s of servers) s.close();
  await shards.stop();
  await admin?.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

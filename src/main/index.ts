// Broker entry: parse flags, start the shards, listen, publish $SYS, stop gracefully on signals.
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { parseArgs, usage } from '../shared/config.ts';
import { ShoalError } from '../shared/errors.ts';
import { StatsBlock } from '../shared/stats.ts';
import { listenTcp } from './listeners.ts';
import { ShardSupervisor } from './shards.ts';
import { SysPublisher } from './sys.ts';

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

const stats = new StatsBlock(config.shards);
const shards = new ShardSupervisor(config, stats, log);
try {
  await shards.start();
} catch (err) {
  console.error(`shoal: ${(err as Error).message}${err instanceof ShoalError ? ` (${err.code})` : ''}`);
  await shards.stop(1000);
  process.exit(1);
}

let server;
try {
  server = await listenTcp(config.host, config.port, shards);
} catch (err) {
  console.error(`shoal: ${(err as Error).message}`);
  await shards.stop(1000);
  process.exit(1);
}
const addr = server.address() as AddressInfo;
const sys = new SysPublisher(stats, shards, pkg.version);
sys.start(config.sysInterval);
console.log(`shoal ${pkg.version} listening on mqtt://${addr.address}:${addr.port} (${config.shards} shards, persistence ${config.persistence}${config.persistence === 'memory' ? '' : `, data ${config.dataDir}`})`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  sys.stop();
  server!.close();
  await shards.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

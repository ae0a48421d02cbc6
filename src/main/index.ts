// Broker entry: read the configuration, start the shards, listen, publish $SYS, stop gracefully on signals.
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { listenersOf } from '../shared/config/listeners.ts';
import { loadCli, type Cli } from '../shared/config/load.ts';
import { helpText, printConfig } from '../shared/config/print.ts';
import type { ShardListener } from '../shared/control.ts';
import { ShoalError } from '../shared/errors.ts';
import { createLogger } from '../shared/log.ts';
import { StatsBlock } from '../shared/stats.ts';
import { within } from './deadline.ts';
import { listen, listenInShards, shardListenersOf, type Listening } from './listeners.ts';
import { ShardSupervisor } from './shards.ts';
import { startLine, urlOf } from './start-line.ts';
import { SysPublisher } from './sys.ts';
import { startAdminPort } from './admin/index.ts';
import { BrokerControl, ControlChannel } from './control/index.ts';
import { reloadOnSighup } from './reload.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// Exit codes: 2 for anything wrong with the configuration (with its source), 1 for a start
// that failed (files, ports, shards), 0 for a clean stop.
let cli: Cli;
try {
  cli = loadCli(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`shoal: ${(err as Error).message}`);
  process.exit(2);
}
if (cli.action === 'help') {
  console.log(helpText());
  process.exit(0);
}
if (cli.action === 'version') {
  console.log(`shoal ${pkg.version}`);
  process.exit(0);
}
if (cli.action === 'print-config') {
  console.log(printConfig(cli));
  process.exit(0);
}
const config = cli.config;
const listeners = listenersOf(config);
const log = await createLogger(config, null);

function fail(err: unknown): string {
  return `shoal: ${(err as Error).message}${err instanceof ShoalError ? ` (${err.code})` : ''}`;
}

let shardListeners: ShardListener[];
try {
  shardListeners = shardListenersOf(listeners, config.listeners.length);
} catch (err) {
  console.error(fail(err));
  process.exit(1);
}

const stats = new StatsBlock(config.shards);
const shards = new ShardSupervisor(config, stats, log, shardListeners);
// Before the shards start, so /ready can say "starting" (docs/operations.md).
const control = new BrokerControl(new ControlChannel(shards));
const admin = await startAdminPort(config, { stats, shards, version: pkg.version, log, control }).catch((err: unknown) => { console.error(fail(err)); process.exit(1); });
try {
  await within(shards.start(), config.startTimeout, `the shards to start (each opens the store${config.persistence === 'memory' ? '' : ` in ${config.dataDir}`})`);
} catch (err) {
  console.error(fail(err));
  await shards.stop(1000);
  process.exit(1);
}

const servers: Listening[] = [];
const urls: string[] = [];
try {
  // --accept shards: the first TCP listener is the shards' (SO_REUSEPORT); main accepts for the others.
  const inShards = config.accept === 'shards' ? listeners.findIndex((l) => l.transport === 'tcp') : -1;
  for (const [i, l] of listeners.entries()) {
    const server = await within(
      i === inShards ? listenInShards(l.host, l.port, i, shards) : listen(l, i, shards),
      config.startTimeout, `the ${l.transport} listener on ${l.host}:${l.port}`,
    );
    servers.push(server);
    const addr = server.address() as AddressInfo;
    urls.push(urlOf(l, addr.address, addr.port));
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
// Before the start line: whoever reads it may signal at once.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
reloadOnSighup({ config, listeners, shards, log });
console.log(startLine(pkg.version, urls, config));

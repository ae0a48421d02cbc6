// Shard entry point: adopts transferred sockets, pumps the rings, obeys main's control messages.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log.ts';
import { StatsBlock } from '../shared/stats.ts';
import { createStore } from '../shared/store/index.ts';
import type { ControlFromShard, ControlToShard, ShardInit } from '../shared/control.ts';
import { Shard } from './shard.ts';
import { createAuthHook } from './auth/create.ts';
import { startKeepalive } from './net/keepalive.ts';
import { Acceptor } from './net/acceptor.ts';
import { Transports } from './net/transports.ts';
import { startLoopStats } from './loop-stats.ts';
import { HookedAuth } from './hooks/auth.ts';
import { EmbedControl } from './embed/control.ts';

const init = workerData as ShardInit;
const port = parentPort!;
const log = await createLogger(init.config, { shard: init.id });
const stats = new StatsBlock(init.count, init.statsSab);
stats.resetRow(init.id, []);

const store = createStore({ persistence: init.config.persistence, dataDir: init.config.dataDir });
try {
  await store.open();
} catch (err) {
  const e = err as { code?: string; message?: string };
  port.postMessage({ type: 'fatal', code: e.code ?? 'SHOAL_STORE_OPEN_FAILED', message: e.message ?? String(err) } satisfies ControlFromShard);
  process.exit(1);
}

const migratedFrom = (store as { migratedFrom?: number | null }).migratedFrom;
if (typeof migratedFrom === 'number') log.warn({ dataDir: init.config.dataDir, from: migratedFrom }, `store migrated from format ${migratedFrom} to the current format`);

const shard = new Shard(init, stats, log, store);
try {
  // Hooks first: the CONNECT-time points decide after the configured authentication (hooks/auth.ts).
  await shard.hooks.load(init.config.hooks, { shard: init.id, shards: init.count, config: init.config, log });
  shard.auth = new HookedAuth(await createAuthHook(init.config), shard.hooks, init.id);
} catch (err) {
  const e = err as { code?: string; message?: string };
  port.postMessage({ type: 'fatal', code: e.code ?? 'SHOAL_CONFIG_INVALID', message: e.message ?? String(err) } satisfies ControlFromShard);
  process.exit(1);
}
shard.boot(init.restart);
const keepalive = startKeepalive(shard.connections, init.config.connectTimeout);
const transports = new Transports(shard, shard, init.listeners);
const acceptor = new Acceptor(shard, shard);
if (init.config.httpPort !== null) startLoopStats(stats, init.id); // for /metrics on the admin port
const embed = new EmbedControl(shard, port);

port.on('message', (m: ControlToShard) => {
  switch (m.type) {
    case 'socket': transports.adopt(m.socket, m.listener); break;
    case 'sys': shard.sysUpdate(m.items); break;
    case 'peer-restarted': shard.peerRestarted(m.peer, m.rings); break;
    case 'listen':
      acceptor.listen(m.host, m.port).then(
        () => port.postMessage({ type: 'listening' } satisfies ControlFromShard),
        (err: NodeJS.ErrnoException) => port.postMessage({ type: 'listen-failed', code: err.code ?? err.message } satisfies ControlFromShard),
      );
      break;
    case 'unlisten': acceptor.close(); break;
    case 'embed-publish': case 'embed-clients': case 'embed-disconnect': case 'embed-events': embed.handle(m); break;
    case 'shutdown':
      acceptor.close();
      clearInterval(keepalive);
      transports.shutdown();
      shard.shutdown().then(() => port.postMessage({ type: 'stopped' } satisfies ControlFromShard), (err) => {
        log.error({ err }, 'shutdown failed');
        port.postMessage({ type: 'stopped' } satisfies ControlFromShard);
      });
      break;
  }
});
shard.hooks.notify('onStarted', log);
port.postMessage({ type: 'ready' } satisfies ControlFromShard);

// Shard entry point: adopts transferred sockets, pumps the rings, obeys main's control messages.
import { parentPort, workerData } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';
import { createLogger } from '../shared/log.ts';
import { Stat, StatsBlock } from '../shared/stats.ts';
import { createStore } from '../shared/store/index.ts';
import type { ControlFromShard, ControlToShard, ShardInit } from '../shared/control.ts';
import { Shard } from './shard.ts';
import { createSecurity, reloadSecurity, type ShardSecurity } from './auth/create.ts';
import { startKeepalive } from './net/keepalive.ts';
import { Acceptor } from './net/acceptor.ts';
import { Transports } from './net/transports.ts';
import { startLoopStats } from './loop-stats.ts';
import { BannedIds } from './control/banned.ts';
import { ControlRoom } from './control/index.ts';
import { startSessionGauges } from './control/gauges.ts';
import { HookedAuth } from './hooks/auth.ts';
import { shardAccess } from './hooks/access.ts';
import { EmbedEvents } from './embed/control.ts';
import { countBackendsIn } from './hooks/backends/common.ts';
import { Bridges } from './bridge/index.ts';
import { Message } from './session/message.ts';
import type { ClusterLink } from './cluster/link.ts';
import { ErrorCode } from '../shared/errors.ts';

// mqtt-packet fills a cache of 65,536 two-byte Buffers (~6.5 MiB of heap per shard) on its first
// encode; only the rare packets go through it (the hot ones have hand-written codecs), so its
// numbers are made per packet instead.
mqttPacket.writeToStream.cacheNumbers = false;

const init = workerData as ShardInit;
const port = parentPort!;
const log = await createLogger(init.config, { shard: init.id });
const stats = new StatsBlock(init.count, init.statsSab);
// A restarted shard keeps its dead incarnation's persistent-session count until it has loaded
// its own (Durability.homedLoaded): peers decide by it whether their acks wait for this shard.
stats.resetRow(init.id, init.restart ? [Stat.PERSISTENT_SESSIONS] : []);

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
const banned = new BannedIds(store);
banned.load();
let security: ShardSecurity;
try {
  // Hooks first, then the files, whose hooks go to the front of the stack (hooks/auth.ts, hooks/access.ts).
  countBackendsIn(stats, init.id); // the first-party backends' health: /metrics and $SYS
  await shard.hooks.load(init.config.hooks, { shard: init.id, shards: init.count, config: init.config, log });
  security = await createSecurity(init.config, init.security, { id: init.id, stats, log });
  shard.hooks.prepend(...security.builtins); // the files' hooks before the modules' (docs/hooks.md, "Order")
  shard.auth = banned.wrap(new HookedAuth(security.auth, shard.hooks, init.id));
  shard.access = shardAccess(security.access, shard.hooks, init.id);
} catch (err) {
  const e = err as { code?: string; message?: string };
  port.postMessage({ type: 'fatal', code: e.code ?? 'SHOAL_CONFIG_INVALID', message: e.message ?? String(err) } satisfies ControlFromShard);
  process.exit(1);
}
// A cluster node: routing reports first/last subscribers from boot on (persistent sessions load there).
// Imported only on a cluster node: the NATS client (with its nkeys crypto) is ~0.5 MiB of heap per shard.
const cluster: ClusterLink | null = init.config.clusterName === '' ? null
  : new (await import('./cluster/link.ts')).ClusterLink({ id: init.id, count: init.count, config: init.config, stats, log, hooks: shard.hooks }, (m) => port.postMessage(m), shard.routing, shard.durability, shard.retainSync);
shard.routing.nodes = cluster;
if (cluster !== null) {
  // Sessions moving between nodes keep what is on its way (worker/cluster/node-moves.ts).
  const { NodeMoves } = await import('./cluster/node-moves.ts');
  const nodeMoves = new NodeMoves(cluster.context, { sessions: shard.sessions, delivery: shard.delivery, routing: shard.routing, gate: shard.durability, flushed: () => shard.store.flushed(), peers: shard.peers }, cluster);
  cluster.moves = shard.moves.nodes = shard.registry.nodeMoves = nodeMoves;
}
try {
  await cluster?.start((id, cleanStart) => shard.registry.handOver(id, cleanStart));
} catch (err) {
  port.postMessage({ type: 'fatal', code: ErrorCode.CLUSTER_UNAVAILABLE, message: `no NATS server answered at ${init.config.clusterNats}: ${(err as Error).message}` } satisfies ControlFromShard);
  process.exit(1);
}
// Client ids unique cluster-wide: the registry's claims without a local owner ask the bucket.
shard.registry.cluster = cluster?.ownership ?? null;
shard.boot(init.restart);
const keepalive = startKeepalive(shard.connections, init.config.connectTimeout);
const transports = new Transports(shard, shard, init.listeners);
const acceptor = new Acceptor(shard, shard);
if (init.config.httpPort !== null) { // for /metrics on the admin port
  startLoopStats(stats, init.id);
  startSessionGauges(stats, init.id, shard.sessions);
}
const bridges = new Bridges({
  ctx: shard,
  sink: shard, sessions: shard.sessions, home: (id) => shard.registry.home(id),
  publishSys: (topic, value) => shard.routing.publish(new Message(topic, Buffer.from(value), 0, true, null, 0, ''), Date.now()),
});
const control = new ControlRoom({
  id: shard.id, stats, sessions: shard.sessions, routing: shard.routing, retained: shard.retained,
  retainSync: shard.retainSync, lifecycle: shard.lifecycle, durability: shard.durability, banned, bridges,
  connections: shard.connections, hooks: shard.hooks, events: new EmbedEvents(shard.hooks, port),
});

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
    case 'query': {
      const seq = m.seq;
      control.answer(m.query).then(
        (value) => port.postMessage({ type: 'answer', seq, ok: true, value } satisfies ControlFromShard),
        (err: unknown) => port.postMessage({ type: 'answer', seq, ok: false, error: (err as Error).message ?? String(err), code: (err as { code?: string }).code } satisfies ControlFromShard),
      );
      break;
    }
    case 'reload':
      // SIGHUP (src/main/reload.ts): files main read and checked; connections stay.
      reloadSecurity(security, init.config, m, { id: init.id, stats, log });
      if (m.aclText !== null) shard.accessReloaded();
      if (m.listeners !== null) transports.replaceTls(m.listeners);
      if (m.bridges !== null) bridges.reconfigure(m.bridges);
      break;
    case 'cluster-node': case 'cluster-route': case 'cluster-share': case 'cluster-mark': cluster?.apply(m); break;
    case 'shutdown':
      bridges.stop();
      acceptor.close();
      clearInterval(keepalive);
      transports.shutdown();
      void security.pool?.close();
      void cluster?.stop();
      shard.shutdown().then(() => port.postMessage({ type: 'stopped' } satisfies ControlFromShard), (err) => {
        log.error({ err }, 'shutdown failed');
        port.postMessage({ type: 'stopped' } satisfies ControlFromShard);
      });
      break;
  }
});
shard.hooks.notify('onStarted', log);
port.postMessage({ type: 'ready' } satisfies ControlFromShard);
// After ready: the bridges' local sessions connect like any client, to a shard that serves.
bridges.start();

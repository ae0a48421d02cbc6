// The broker as a library: createBroker(options) starts the shards (hooks loaded, store open),
// listen() binds the listeners, close() stops as SIGTERM does. No process.exit and no signal
// handlers unless handleSignals is set (the CLI, src/main/index.ts). The requests that go to the
// shards (publish, clients, disconnect, events) go through one narrow interface, ShardRequests,
// carried by the control channel the admin port uses too (src/main/control/).
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../shared/config.ts';
import { listenersOf } from '../shared/config/listeners.ts';
import { loadObject, type ConfigObject } from '../shared/config/object.ts';
import type { ConnectedClient } from '../shared/admin-query.ts';
import type { EmbedEvent } from '../shared/control.ts';
import { ErrorCode, ShoalError } from '../shared/errors.ts';
import { createLogger } from '../shared/log.ts';
import { Reason } from '../shared/protocol/reason-codes.ts';
import { Stat, StatsBlock } from '../shared/stats.ts';
import { validateTopicName } from '../shared/topics/validate.ts';
import { within } from './deadline.ts';
import { reserveFdTable } from './fd-table.ts';
import { listen, listenInShards, shardListenersOf, type Listening } from './listeners.ts';
import { ShardSupervisor } from './shards.ts';
import { startLine, urlOf } from './start-line.ts';
import { SysPublisher } from './sys.ts';
import type { startAdminPort } from './admin/index.ts';
import { BrokerControl, ControlChannel } from './control/index.ts';
import { ChannelRequests, type ShardRequests } from './control/requests.ts';
import { readSecurityFiles } from '../shared/auth/files.ts';
import { reloadOnSighup } from './reload.ts';
import type { ClusterNode } from './cluster/index.ts';

export const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** MQTT 5 PUBLISH properties as MQTT.js spells them (contentType, userProperties, messageExpiryInterval, ...). */
  properties?: Record<string, unknown>;
}

/** A connected client as broker.clients() and the events report it. */
export type ClientInfo = ConnectedClient;
export type { ShardRequests };

/** Where the shards' embedding events go once a Broker exists (null before: dropped). */
type Unasked = { emit: ((name: EmbedEvent['name'], data: Record<string, unknown>) => void) | null };

/** Options: the config keys in camelCase or kebab-case, `hooks`, and what only an embedding program sets. */
export interface BrokerOptions extends Partial<Omit<BrokerConfig, 'hooks' | 'listeners' | 'bridges'>> {
  hooks?: (string | { module: string; options?: unknown })[];
  listeners?: Record<string, unknown>[];
  /** As the config file's bridges: (docs/bridges.md), keys in kebab-case or camelCase. */
  bridges?: Record<string, unknown>[];
  /** SIGINT/SIGTERM close the broker and exit the process with 0 (what the CLI does). */
  handleSignals?: boolean;
  [kebab: string]: unknown;
}

const EVENTS_FROM_SHARDS = new Set(['client:connect', 'client:disconnect', 'subscribe', 'unsubscribe']);

export class Broker extends EventEmitter {
  readonly config: BrokerConfig;
  readonly log: Logger;
  private readonly shards: ShardSupervisor;
  private readonly stats: StatsBlock;
  private readonly requests: ShardRequests;
  private readonly admin: Awaited<ReturnType<typeof startAdminPort>>;
  private servers: Listening[] = [];
  private urls: string[] = [];
  private sys: SysPublisher | null = null;
  private state: 'started' | 'listening' | 'closing' | 'closed' = 'started';
  private closing: Promise<void> | null = null;
  private eventsOn = false;
  private readonly cluster: ClusterNode | null;

  /** Use createBroker(). */
  constructor(config: BrokerConfig, log: Logger, stats: StatsBlock, shards: ShardSupervisor, admin: Broker['admin'], channel: ControlChannel, cluster: ClusterNode | null, unasked: Unasked) {
    super();
    this.cluster = cluster;
    this.stats = stats;
    this.config = config;
    this.log = log;
    this.shards = shards;
    this.admin = admin;
    const requests = new ChannelRequests(channel);
    this.requests = requests;
    unasked.emit = (name, data) => { if (this.eventsOn) this.emit(name, data); };
    // What an exited shard was asked is failed by the channel (channel.ts), for both APIs.
    shards.onShardExit = (shard, code, restarting) => {
      cluster?.shardExited(shard);
      this.emit('shard:exit', { shard, code, restarting });
    };
    // A restarted shard starts with no events hook: it gets one again if someone listens.
    shards.onShardRestarted = (shard) => {
      if (this.eventsOn) requests.eventsOn(shard, true);
      cluster?.shardRestarted(shard);
    };
    // Events cross from the shards only while someone listens (a hook in every shard's stack).
    this.on('newListener', (name: string) => { if (EVENTS_FROM_SHARDS.has(name) && !this.eventsOn) { this.eventsOn = true; requests.events(true); } });
    this.on('removeListener', () => {
      if (this.eventsOn && ![...EVENTS_FROM_SHARDS].some((n) => this.listenerCount(n) > 0)) { this.eventsOn = false; requests.events(false); }
    });
  }

  /** Binds every listener of the configuration; resolves when the broker accepts connections. */
  async listen(): Promise<void> {
    if (this.state !== 'started') throw new ShoalError(ErrorCode.BROKER_NOT_RUNNING, `listen() on a broker that is ${this.state}`);
    const config = this.config;
    const listeners = listenersOf(config);
    try {
      // --accept shards: the first TCP listener is the shards' (SO_REUSEPORT); main accepts for the others.
      const inShards = config.accept === 'shards' ? listeners.findIndex((l) => l.transport === 'tcp') : -1;
      for (const [i, l] of listeners.entries()) {
        const server = await within(
          i === inShards ? listenInShards(l.host, l.port, i, this.shards) : listen(l, i, this.shards),
          config.startTimeout, `the ${l.transport} listener on ${l.host}:${l.port}`,
        );
        this.servers.push(server);
        const addr = server.address() as AddressInfo;
        this.urls.push(urlOf(l, addr.address, addr.port));
      }
    } catch (err) {
      for (const s of this.servers) s.close();
      this.servers = [];
      await this.close();
      throw err;
    }
    this.sys = new SysPublisher(this.stats, this.shards, version);
    this.sys.start(config.sysInterval);
    this.admin?.listening();
    if (this.admin) this.urls.push(this.admin.url);
    this.state = 'listening';
  }

  /** Where the first listener (plain TCP) listens: {address, family, port}; null before listen(). */
  address(): AddressInfo | null {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a !== null ? a : null;
  }

  /** Every listener's URL (mqtt://, mqtts://, ws://, wss://, and the admin port's http://). */
  listenUrls(): string[] { return [...this.urls]; }

  /** The start line the CLI prints. */
  startLine(): string { return startLine(version, this.urls, this.config); }

  /**
   * Publishes as the broker (no client; origin '' so No Local never applies), through normal
   * routing: retained, queued for offline sessions, and for QoS 1/2 resolved once committed
   * where it went. Rejects with SHOAL_PUBLISH_INVALID for a bad topic, payload or properties.
   */
  async publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<void> {
    this.running();
    const why = typeof topic === 'string' ? validateTopicName(topic) : 'not a string';
    if (why !== null) throw new ShoalError(ErrorCode.PUBLISH_INVALID, `topic ${JSON.stringify(topic)}: ${why}`);
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new ShoalError(ErrorCode.PUBLISH_INVALID, `qos must be 0, 1 or 2, got ${String(qos)}`);
    const buf = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    await this.requests.publish(topic, buf, qos, options.retain === true, options.properties ?? null);
  }

  /** The connected clients of every shard, by client id. */
  clients(): Promise<ClientInfo[]> { this.running(); return this.requests.clients(null); }

  /** One connected client, or null. */
  async client(clientId: string): Promise<ClientInfo | null> { this.running(); return (await this.requests.clients(clientId))[0] ?? null; }

  /** Disconnects a client (v5: DISCONNECT with `reason`, default 0x98 Administrative action); false when it is not connected. */
  disconnect(clientId: string, reason: number = Reason.ADMINISTRATIVE_ACTION): Promise<boolean> { this.running(); return this.requests.disconnect(clientId, reason); }

  private running(): void {
    if (this.state === 'closing' || this.state === 'closed') throw new ShoalError(ErrorCode.BROKER_NOT_RUNNING, `the broker is ${this.state}`);
  }

  /** Graceful stop, as SIGTERM: stop accepting, v5 clients get DISCONNECT 0x8B, sessions saved, stores closed. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      this.admin?.stopping();
      this.sys?.stop();
      for (const s of this.servers) s.close();
      // Leave the cluster first: the other nodes stop forwarding here before the shards go.
      await this.cluster?.stop();
      await this.shards.stop();
      await this.admin?.close();
      this.state = 'closed';
      this.emit('close');
    })();
    return this.closing;
  }
}

/** A started broker (shards up, hooks loaded, store open), not yet listening: call listen(). */
export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  const { handleSignals, ...rest } = options;
  const { config } = loadObject(rest as ConfigObject);
  return startBroker(config, { handleSignals: handleSignals === true });
}

/** createBroker for a configuration already loaded (the CLI's). */
export async function startBroker(config: BrokerConfig, opts: { handleSignals: boolean; configFile?: string | null }): Promise<Broker> {
  const log = await createLogger(config, null);
  // Before any socket: a doubling of the table during a CONNECT burst stalls every thread (fd-table.ts).
  const fdTable = reserveFdTable(config.fdReserve);
  if (fdTable > 0) log.debug({ fdTable }, 'descriptor table reserved');
  const listeners = listenersOf(config);
  const shardListeners = shardListenersOf(listeners, config.listeners.length);
  const stats = new StatsBlock(config.shards);
  const shards = new ShardSupervisor(config, stats, log, shardListeners);
  shards.security = readSecurityFiles(config); // every shard, restarted ones too, parses these texts (reload.ts)
  // The admin port's questions to the shards (REST API, dashboard).
  // One channel for the admin port and the embedding API: one id space, one shard-exit handling.
  const channel = new ControlChannel(shards);
  const control = new BrokerControl(channel);
  // A cluster node hears its shards' routes from their boot on (persistent sessions), joins once
  // they are up, and listens only once it has the cluster's route table (docs/cluster.md).
  const cluster: ClusterNode | null = config.clusterName === '' ? null // NATS only on a cluster node
    : new (await import('./cluster/index.ts')).ClusterNode(config, log, { broadcast: (m) => shards.broadcast(m), post: (i, m) => shards.post(i, m) }, () => stats.sum(Stat.CLIENTS_CONNECTED), (id, on) => control.ban(id, on),
      async (id) => (await control.client(id)).value?.online === true);
  // What shards send unasked, wired once before they start: cluster routes from their boot on,
  // embedding events once the Broker exists (it sets the sink).
  const unasked: Unasked = { emit: null };
  shards.onMessage = (i, m) => {
    if (m.type === 'embed-event') unasked.emit?.(m.name, m.data);
    else cluster?.fromShard(i, m);
  };
  // Before the shards start, so /ready can say "starting" (docs/operations.md).
  // Imported only with --http-port: prom-client and the admin routes cost main ~10 MiB otherwise.
  const admin = config.httpPort === null ? null : await (await import('./admin/index.ts')).startAdminPort(config, { stats, shards, version, log, control, cluster });
  try {
    await within(shards.start(), config.startTimeout, `the shards to start (each opens the store${config.persistence === 'memory' ? '' : ` in ${config.dataDir}`})`);
    if (cluster !== null) await within(cluster.start(), config.startTimeout, `the cluster (NATS at ${config.clusterNats})`);
  } catch (err) {
    await cluster?.stop();
    await shards.stop(1000);
    await admin?.close();
    throw err;
  }
  const broker = new Broker(config, log, stats, shards, admin, channel, cluster, unasked);
  if (opts.handleSignals) {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      void broker.close().then(() => process.exit(0));
    };
    // A second signal while stopping changes nothing (close() is one stop).
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // SIGHUP: password file, ACL file, TLS certificates and the file's bridges again, no connection dropped.
    reloadOnSighup({ config, listeners, shards, log, configFile: opts.configFile ?? null });
  }
  return broker;
}

// The cluster room, main's side (docs/cluster.md): main's own NATS connection for what is
// cluster-wide and rare: membership (the nodes bucket and heartbeats), this node's route
// announcements (announcer.ts), the other nodes and their routes (table.ts), passed on to the
// shards over their ports. The data path is the shards' own (src/worker/cluster).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { watchAll } from '../../shared/cluster/watch.ts';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../shared/config.ts';
import { HEARTBEAT_MS, heartbeatSubject, natsServers, nodesBucket, parseRouteKey, routesBucket } from '../../shared/cluster/names.ts';
import type { ControlFromShard } from '../../shared/control.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { RouteAnnouncer } from './announcer.ts';
import { NodeTable, type ShardPost } from './table.ts';

export class ClusterNode {
  private readonly config: BrokerConfig;
  private readonly log: Logger;
  private readonly announcer: RouteAnnouncer;
  private readonly table: NodeTable;
  private nc: NatsConnection | null = null;
  private nodesKv: KV | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(config: BrokerConfig, log: Logger, shards: ShardPost) {
    this.config = config;
    this.log = log.child({ cluster: config.clusterName, node: config.clusterNodeId });
    this.announcer = new RouteAnnouncer(config.clusterNodeId, this.log);
    this.table = new NodeTable(shards);
  }

  get nodeId(): string { return this.config.clusterNodeId; }

  /** A message from a shard that is the cluster's; false for any other. */
  fromShard(shard: number, m: ControlFromShard): boolean {
    if (m.type !== 'cluster-local-route') return false;
    this.announcer.shardRoute(shard, m.add, m.filter);
    return true;
  }

  shardExited(shard: number): void { this.announcer.shardGone(shard); }
  shardRestarted(shard: number): void { this.table.syncShard(shard); }

  /**
   * Joins: connects, registers this node, replaces its old announcements with its shards'
   * routes, and reads the other nodes and the route table. Resolves when the shards have been
   * sent the table, so the listeners open only after that (docs/cluster.md).
   */
  async start(): Promise<void> {
    const cfg = this.config;
    const node = cfg.clusterNodeId;
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: natsServers(cfg.clusterNats), name: `shoal-${node}-main`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (err) {
      throw new ShoalError(ErrorCode.CLUSTER_UNAVAILABLE, `no NATS server answered at ${cfg.clusterNats}: ${(err as Error).message}`, { cause: err });
    }
    this.nc = nc;
    let routes: KV;
    let nodes: KV;
    try {
      const kvm = new Kvm(nc);
      // Memory storage: both buckets are soft state every node writes again when it starts.
      routes = await kvm.create(routesBucket(cfg.clusterName), { history: 1, storage: StorageType.Memory });
      nodes = await kvm.create(nodesBucket(cfg.clusterName), { history: 1, storage: StorageType.Memory });
    } catch (err) {
      await nc.close();
      throw new ShoalError(ErrorCode.CLUSTER_UNAVAILABLE, `NATS at ${cfg.clusterNats} has no usable JetStream (start nats-server with -js): ${(err as Error).message}`, { cause: err });
    }
    this.nodesKv = nodes;
    await this.announcer.publish(routes);
    await nodes.put(node, JSON.stringify({ shards: cfg.shards }));
    const hb = heartbeatSubject(cfg.clusterName);
    nc.subscribe(hb, { callback: (err, m) => { if (err === null) { const id = m.string(); if (id !== node) this.table.heartbeat(id, Date.now()); } } });
    await watchAll(nodes, (e) => {
      if (e.key === node) return;
      if (e.operation === 'PUT') this.table.registered(e.key, (e.json() as { shards: number }).shards, Date.now());
      else this.table.left(e.key);
    });
    await watchAll(routes, (e) => {
      const k = parseRouteKey(e.key);
      if (k === null || k[0] === node) return;
      this.table.route(k[0], e.operation === 'PUT', k[1]);
    });
    nc.publish(hb, node);
    this.timer = setInterval(() => {
      nc.publish(hb, node);
      this.table.sweep(Date.now());
    }, HEARTBEAT_MS);
    this.timer.unref();
    this.log.info({ nats: cfg.clusterNats, filters: this.announcer.size }, 'joined the cluster');
  }

  /** The other nodes, for the REST API. */
  nodes(): ReturnType<NodeTable['list']> { return this.table.list(); }

  /** Leaves: the node's key goes (the others stop forwarding at once), then the connection. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.announcer.detach();
    const nc = this.nc;
    this.nc = null;
    if (nc === null) return;
    await this.nodesKv?.delete(this.config.clusterNodeId).catch(() => {});
    await nc.drain().catch(() => {});
  }
}

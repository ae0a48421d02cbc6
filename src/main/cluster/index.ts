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
import { bannedBucket, clientsBucket, clientSubject, HEARTBEAT_MS, heartbeatSubject, keyTopic, natsServers, nodesBucket, parseOwner, parseRouteKey, routesBucket, statSubject, topicKey } from '../../shared/cluster/names.ts';
import type { ControlFromShard } from '../../shared/control.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { RouteAnnouncer } from './announcer.ts';
import { NodeTable, type ShardPost } from './table.ts';
import { MoveMarks } from './moves.ts';

export class ClusterNode {
  private readonly config: BrokerConfig;
  private readonly log: Logger;
  private readonly announcer: RouteAnnouncer;
  private readonly table: NodeTable;
  private readonly marks: MoveMarks;
  private nc: NatsConnection | null = null;
  private nodesKv: KV | null = null;
  private timer: NodeJS.Timeout | null = null;
  private joined = false;
  private unwatch: (() => void)[] = [];

  /** Clients connected on this node now (the stats block's sum). */
  private readonly localOnline: () => number;
  /** Sets or lifts a ban on this node (its shards' ban list, src/main/control). */
  private readonly localBan: (id: string, on: boolean) => Promise<unknown>;
  private bannedKv: KV | null = null;
  /** Whether a client id is connected on this node now (its shards' answer). */
  private readonly localClient: (id: string) => Promise<boolean>;
  /** Client-id ownership (written by the shards' home shards, worker/cluster/ownership.ts); read here for REST. */
  private clientsKv: KV | null = null;

  constructor(config: BrokerConfig, log: Logger, shards: ShardPost, localOnline: () => number, localBan: (id: string, on: boolean) => Promise<unknown>,
    localClient: (id: string) => Promise<boolean>) {
    this.config = config;
    this.localClient = localClient;
    this.localOnline = localOnline;
    this.localBan = localBan;
    this.log = log.child({ cluster: config.clusterName, node: config.clusterNodeId });
    this.announcer = new RouteAnnouncer(config.clusterNodeId, this.log);
    this.table = new NodeTable(shards);
    this.marks = new MoveMarks(config, this.log, this.table, shards);
  }

  get nodeId(): string { return this.config.clusterNodeId; }

  /** A message from a shard that is the cluster's; false for any other. */
  fromShard(shard: number, m: ControlFromShard): boolean {
    if (m.type === 'cluster-local-route') this.announcer.shardRoute(shard, m.add, m.filter);
    else if (m.type === 'cluster-local-share') this.announcer.shardShare(shard, m.key, m.count);
    else if (m.type === 'cluster-move') this.marks.ask(m.move, m.filters);
    else return false;
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
    const hb = heartbeatSubject(cfg.clusterName);
    nc.subscribe(hb, { callback: (err, m) => { if (err === null) { const id = m.string(); if (id !== node) this.table.heartbeat(id, Date.now()); } } });
    nc.subscribe(statSubject(cfg.clusterName, node), { callback: (err, m) => { if (err === null) m.respond(String(this.localOnline())); } });
    this.marks.start(nc);
    nc.subscribe(clientSubject(cfg.clusterName, node), {
      callback: (err, m) => {
        if (err === null) this.localClient(m.string()).then((on) => m.respond(on ? '1' : '0'), () => m.respond(''));
      },
    });
    try {
      await this.join(nc);
    } catch (err) {
      await nc.close();
      throw new ShoalError(ErrorCode.CLUSTER_UNAVAILABLE, `NATS at ${cfg.clusterNats} has no usable JetStream (start nats-server with -js): ${(err as Error).message}`, { cause: err });
    }
    this.timer = setInterval(() => {
      // Cut off from NATS, this node cannot tell whether the others are gone: it keeps their
      // routes, so QoS 1/2 messages they want get no ack (the publishers resend) rather than
      // an ack without them. Connected, a silent node is down.
      if (!this.joined) return;
      nc.publish(hb, node);
      this.table.sweep(Date.now());
    }, HEARTBEAT_MS);
    this.timer.unref();
    void this.followStatus(nc);
    this.log.info({ nats: cfg.clusterNats, filters: this.announcer.size }, 'joined the cluster');
  }

  /** Connected to NATS and joined: what /ready reports (docs/cluster.md, NATS lost). */
  get connected(): boolean { return this.joined; }

  /**
   * NATS lost: this node serves its own clients; what other nodes want waits (QoS 0 in nats.js's
   * reconnect buffer; QoS 1/2 unacknowledged, as their commit answers cannot come). Back: its
   * registration and routes are written again and the tables read again, since a restarted
   * NATS has lost the memory buckets.
   */
  private async followStatus(nc: NatsConnection): Promise<void> {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect' && this.joined) {
        this.joined = false;
        this.announcer.detach();
        this.log.warn('lost NATS: serving local clients only until it is back');
      } else if (st.type === 'reconnect' && this.nc === nc) {
        await this.rejoin(nc);
      }
    }
  }

  private async rejoin(nc: NatsConnection): Promise<void> {
    for (let attempt = 0; this.nc === nc && !nc.isClosed(); attempt++) {
      try {
        await this.join(nc);
        this.log.info({ filters: this.announcer.size }, 'NATS back: rejoined the cluster');
        return;
      } catch (err) {
        // JetStream takes a moment after a server restart.
        if (attempt % 10 === 0) this.log.warn({ err }, 'rejoining the cluster failed; trying again');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Buckets, this node's registration and announcements, then the current tables (watches). */
  private async join(nc: NatsConnection): Promise<void> {
    const cfg = this.config;
    const node = cfg.clusterNodeId;
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
    const kvm = new Kvm(nc);
    // Memory storage: both buckets are soft state every node writes again when it (re)joins.
    const routes = await kvm.create(routesBucket(cfg.clusterName), { history: 1, storage: StorageType.Memory });
    const nodes = await kvm.create(nodesBucket(cfg.clusterName), { history: 1, storage: StorageType.Memory });
    this.nodesKv = nodes;
    const banned = this.bannedKv = await kvm.create(bannedBucket(cfg.clusterName), { history: 1 });
    this.clientsKv = await kvm.create(clientsBucket(cfg.clusterName), { history: 1 });
    await this.announcer.publish(routes);
    // A new epoch at every join: the others reconcile this node's routes with what it wrote now.
    await nodes.put(node, JSON.stringify({ shards: cfg.shards, epoch: `${process.pid}-${Date.now()}` }));
    this.unwatch.push(await watchAll(nodes, (e) => {
      if (e.key === node) return;
      if (e.operation === 'PUT') { const v = e.json() as { shards: number; epoch: string }; this.table.registered(e.key, v.shards, v.epoch, Date.now()); }
      else this.table.left(e.key);
    }));
    this.unwatch.push(await watchAll(routes, (e) => {
      const k = parseRouteKey(e.key);
      if (k === null || k[0] === node) return;
      if (k[2]) this.table.share(k[0], k[1], e.operation === 'PUT' ? Number(e.string()) || 0 : 0);
      else this.table.route(k[0], e.operation === 'PUT', k[1]);
    }));
    // The cluster blacklist: every node applies every ban and lift to its own ban list.
    this.unwatch.push(await watchAll(banned, (e) => {
      this.localBan(keyTopic(e.key), e.operation === 'PUT').catch((err: unknown) => this.log.warn({ err, id: keyTopic(e.key) }, 'cluster ban not applied'));
    }));
    nc.publish(heartbeatSubject(cfg.clusterName), node);
    this.table.heardAll(Date.now());
    this.joined = true;
  }

  /** This node and the others, for the REST API. */
  nodes(): { node: string; self: boolean; up: boolean; shards: number; filters: number }[] {
    return [
      { node: this.nodeId, self: true, up: this.joined, shards: this.config.shards, filters: this.announcer.size },
      ...this.table.list().map((n) => ({ ...n, self: false })),
    ];
  }

  /** Bans `id` on every node (false: lifts it; resolves false when it was not banned cluster-wide). */
  async ban(id: string, on: boolean): Promise<boolean> {
    const kv = this.bannedKv;
    if (kv === null || !this.joined) throw new Error('not connected to NATS');
    const key = topicKey(id);
    if (on) { await kv.put(key, ''); return true; }
    const cur = await kv.get(key);
    if (cur === null || cur.operation !== 'PUT') return false;
    await kv.delete(key);
    return true;
  }

  /** The client ids banned cluster-wide, sorted. */
  async banned(): Promise<string[]> {
    const kv = this.bannedKv;
    if (kv === null || !this.joined) throw new Error('not connected to NATS');
    const ids: string[] = [];
    for await (const k of await kv.keys()) ids.push(keyTopic(k));
    return ids.sort();
  }

  /**
   * Who owns client id `id` (the ownership bucket): its node, since when, and whether it is
   * connected there now (asked of that node; null: it did not answer within a second). Null:
   * no node owns it.
   */
  async client(id: string): Promise<{ id: string; node: string; since: string; connected: boolean | null } | null> {
    const kv = this.clientsKv;
    const nc = this.nc;
    if (kv === null || nc === null || !this.joined) throw new Error('not connected to NATS');
    const e = await kv.get(topicKey(id));
    const o = e !== null && e.operation === 'PUT' ? parseOwner(e.value) : null;
    if (o === null) return null;
    let connected: boolean | null;
    if (o.node === this.nodeId) connected = await this.localClient(id);
    else {
      try {
        const a = (await nc.request(clientSubject(this.config.clusterName, o.node), id, { timeout: 1000 })).string();
        connected = a === '' ? null : a === '1';
      } catch { connected = null; }
    }
    return { id, node: o.node, since: new Date(o.since).toISOString(), connected };
  }

  /** Clients connected on each up node (null: it did not answer within a second). */
  async online(): Promise<{ node: string; online: number | null }[]> {
    const nc = this.nc;
    const ask = async (node: string): Promise<number | null> => {
      if (node === this.nodeId) return this.localOnline();
      if (nc === null || !this.joined) return null;
      try { return Number((await nc.request(statSubject(this.config.clusterName, node), '', { timeout: 1000 })).string()); } catch { return null; }
    };
    const up = this.nodes().filter((n) => n.up || n.self);
    return Promise.all(up.map(async (n) => ({ node: n.node, online: await ask(n.node) })));
  }

  /** Leaves: the node's key goes (the others stop forwarding at once), then the connection. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.marks.stop();
    this.announcer.detach();
    this.joined = false;
    for (const stop of this.unwatch) stop();
    const nc = this.nc;
    this.nc = null;
    if (nc === null) return;
    await this.nodesKv?.delete(this.config.clusterNodeId).catch(() => {});
    await nc.drain().catch(() => {});
  }
}

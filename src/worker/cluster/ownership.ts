// Client ids unique cluster-wide (docs/cluster.md, "Client ids"): the shard's side. A client
// id's home shard on a node (registry.ts) orders the node's claims for it; when it has no
// local owner, it claims the id in the JetStream KV bucket `shoal_<cluster>_clients` with
// compare-and-set on the key's revision, and, when the bucket named another node, asks that
// node's home shard for the id to hand the session over (its binary form, durable/session-codec.ts,
// is the reply). A CONNECT-time cost only: nothing here runs per message, and a node without
// --cluster-name never builds it.
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { clientsBucket, ownSubject, parseOwner, topicKey, type OwnerRecord } from '../../shared/cluster/names.ts';
import { BRIDGE_ID_PREFIX } from '../../shared/protocol/constants.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { ShardContext } from '../context.ts';
import { homeShard } from '../peers/frames.ts';
import type { MoveEnd } from '../../shared/cluster/moves.ts';

/** How a cluster claim ends: the session handed over by its previous node (or none) and its ghost there, or refused. */
export type ClusterClaim = { state: Buffer | null; ghost?: MoveEnd | null } | { refused: number; why: string };

/** A hand-over's result: the session's state (null: none) and, when the old node keeps a ghost for the move, where (node-moves.ts). */
export interface HandedOver { state: Buffer | null; ghost: MoveEnd | null }

/** What ownership reads of the other nodes (the shard's cluster table, link.ts). */
export interface NodesView {
  isUp(node: string): boolean;
  /** The node's shard count (0: not registered). */
  shardsOf(node: string): number;
}

/** The home shard's side of a hand-over asked by another node (registry.ts). */
export type HandOver = (clientId: string, cleanStart: boolean) => Promise<HandedOver>;

// The hand-over reply's first byte.
const NONE = 0;
const SESSION = 1;
/** The home shard cannot answer now (still checking its stored sessions at start): ask again later. */
const BUSY = 2;
/** SESSION with a ghost: the ghost's shard (u8) and token (u32) follow, then the state. */
const SESSION_GHOST = 3;

/**
 * A bridge's local session ($bridge/<name>, docs/bridges.md) belongs to its node: every node
 * with that bridge configured has its own, so it is never claimed cluster-wide.
 */
function nodeLocal(clientId: string): boolean { return clientId.startsWith(BRIDGE_ID_PREFIX); }
/** Compare-and-set attempts before a claim gives up (each lost one means another node claimed meanwhile). */
const CAS_TRIES = 5;

export class Ownership {
  private readonly ctx: ShardContext;
  private readonly nodes: NodesView;
  private kv: KV | null = null;
  private nc: NatsConnection | null = null;
  private connected = false;

  constructor(ctx: ShardContext, nodes: NodesView) {
    this.ctx = ctx;
    this.nodes = nodes;
  }

  /** Opens the bucket and answers hand-over requests for the ids homed on this shard. */
  async start(nc: NatsConnection, handOver: HandOver): Promise<void> {
    const cfg = this.ctx.config;
    this.nc = nc;
    // JetStream calls time out as the rest of the cluster's waits do (--cluster-timeout).
    this.kv = await new Kvm(jetstream(nc, { timeout: cfg.clusterTimeout })).create(clientsBucket(cfg.clusterName), { history: 1 });
    nc.subscribe(ownSubject(cfg.clusterName, cfg.clusterNodeId, this.ctx.id), { callback: (err, m) => { if (err === null) this.answer(m, handOver); } });
    await nc.flush();
    this.connected = true;
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') this.connected = false;
        else if (st.type === 'reconnect') this.connected = true;
      }
    })();
  }

  stop(): void { this.connected = false; this.nc = null; }

  private record(): Uint8Array {
    return Buffer.from(JSON.stringify({ node: this.ctx.config.clusterNodeId, since: Date.now() } satisfies OwnerRecord));
  }

  /**
   * Claims `clientId` for this node. Refused (0x88) when NATS cannot be asked, or the node that
   * owned it is up but does not hand over within --cluster-timeout (the claim is undone then):
   * two sessions for one id on two nodes could never be merged again. A previous owner that is
   * down keeps nothing: the session starts fresh here, and that node drops its stored copy at
   * its next start (keepStored).
   */
  async claim(clientId: string, cleanStart: boolean): Promise<ClusterClaim> {
    if (nodeLocal(clientId)) return { state: null };
    const kv = this.kv;
    if (kv === null || !this.connected) return { refused: Reason.SERVER_UNAVAILABLE, why: 'not connected to NATS' };
    const self = this.ctx.config.clusterNodeId;
    const key = topicKey(clientId);
    try {
      for (let attempt = 0; attempt < CAS_TRIES; attempt++) {
        const cur = await kv.get(key);
        const prev = cur !== null && cur.operation === 'PUT' ? parseOwner(cur.value) : null;
        let rev: number;
        try {
          rev = cur === null || cur.operation !== 'PUT' ? await kv.create(key, this.record()) : await kv.update(key, this.record(), cur.revision);
        } catch { continue; } // another node's write came between: read again
        if (prev === null || prev.node === self || !this.nodes.isUp(prev.node)) return { state: null };
        try {
          return await this.askHandOver(prev.node, clientId, cleanStart);
        } catch (err) {
          // Give the id back to the node that still has the session (unless someone claimed it meanwhile).
          await kv.update(key, Buffer.from(JSON.stringify(prev)), rev).catch(() => {});
          return { refused: Reason.SERVER_UNAVAILABLE, why: `node ${prev.node} did not hand the session over: ${(err as Error).message}` };
        }
      }
      return { refused: Reason.SERVER_UNAVAILABLE, why: 'the client id is being claimed on other nodes at the same time' };
    } catch (err) {
      return { refused: Reason.SERVER_UNAVAILABLE, why: `the ownership bucket did not answer: ${(err as Error).message}` };
    }
  }

  private async askHandOver(node: string, clientId: string, cleanStart: boolean): Promise<HandedOver> {
    const cfg = this.ctx.config;
    const shards = this.nodes.shardsOf(node);
    const subject = ownSubject(cfg.clusterName, node, homeShard(clientId, Math.max(1, shards)));
    const ask = Buffer.concat([Buffer.of(cleanStart ? 1 : 0), Buffer.from(clientId, 'utf8')]);
    const reply = await this.nc!.request(subject, ask, { timeout: cfg.clusterTimeout });
    const d = reply.data;
    if (d.length === 0 || d[0] === NONE) return { state: null, ghost: null };
    if (d[0] === BUSY) throw new Error(`node ${node} is starting`);
    // A copy: the reply's bytes belong to nats.js's read buffer.
    if (d[0] === SESSION) return { state: Buffer.from(d.subarray(1)), ghost: null };
    if (d[0] !== SESSION_GHOST || d.length < 6) throw new Error(`unexpected hand-over reply ${d[0]}`);
    const b = Buffer.from(d);
    return { state: b.subarray(6), ghost: { node, shard: b[1]!, token: b.readUInt32BE(2) } };
  }

  private answer(m: Msg, handOver: HandOver): void {
    const d = m.data;
    if (d.length < 2) { m.respond(Uint8Array.of(NONE)); return; }
    const clientId = Buffer.from(d.subarray(1)).toString('utf8');
    handOver(clientId, d[0] === 1).then(
      ({ state, ghost }) => {
        if (state === null) { m.respond(Uint8Array.of(NONE)); return; }
        if (ghost === null) { m.respond(Buffer.concat([Buffer.of(SESSION), state])); return; }
        const head = Buffer.alloc(6);
        head[0] = SESSION_GHOST;
        head[1] = ghost.shard;
        head.writeUInt32BE(ghost.token >>> 0, 2);
        m.respond(Buffer.concat([head, state]));
      },
      // The claiming node refuses its CONNECT and gives the id back.
      (err: unknown) => { this.ctx.log.info({ err, client: clientId }, 'session not handed over to another node now'); m.respond(Uint8Array.of(BUSY)); },
    );
  }

  /** A local takeover on this node: the bucket names this node (the newest CONNECT wins). */
  mine(clientId: string): void {
    const kv = this.kv;
    if (kv === null || !this.connected || nodeLocal(clientId)) return;
    kv.put(topicKey(clientId), this.record()).catch((err: unknown) => this.ctx.log.warn({ err, client: clientId }, 'client-id ownership not recorded'));
  }

  /** The session of `clientId` ended here (closed clean, expired): the id is free again, unless another node has it now. */
  release(clientId: string): void {
    const kv = this.kv;
    if (kv === null || !this.connected || nodeLocal(clientId)) return;
    const key = topicKey(clientId);
    void (async () => {
      const cur = await kv.get(key);
      if (cur === null || cur.operation !== 'PUT' || parseOwner(cur.value)?.node !== this.ctx.config.clusterNodeId) return;
      await kv.delete(key, { previousSeq: cur.revision });
    })().catch((err: unknown) => this.ctx.log.debug({ err, client: clientId }, 'client-id ownership not released (it changed meanwhile)'));
  }

  /**
   * At start: of the sessions in this node's store, those the bucket gives to another node
   * (taken over there while this node was down). Ids nobody owns are claimed for this node.
   * When the bucket does not answer, every stored session is kept (better a stale session
   * than a lost one; a later claim elsewhere takes it over).
   */
  async foreign(ids: readonly string[]): Promise<Set<string>> {
    const kv = this.kv;
    const out = new Set<string>();
    if (kv === null || ids.length === 0) return out;
    const self = this.ctx.config.clusterNodeId;
    await Promise.all(ids.filter((id) => !nodeLocal(id)).map(async (id) => {
      const key = topicKey(id);
      try {
        const cur = await kv.get(key);
        const owner = cur !== null && cur.operation === 'PUT' ? parseOwner(cur.value) : null;
        if (owner === null) {
          await kv.create(key, this.record()).catch(async () => {
            const again = await kv.get(key);
            const o = again !== null && again.operation === 'PUT' ? parseOwner(again.value) : null;
            if (o !== null && o.node !== self) out.add(id);
          });
        } else if (owner.node !== self) out.add(id);
      } catch (err) {
        this.ctx.log.warn({ err, client: id }, 'client-id ownership not checked at start; the stored session is kept');
      }
    }));
    return out;
  }
}

// Markers for a session moving between nodes, main's side (docs/cluster.md, "Messages on their
// way during a move"; the protocol: worker/cluster/node-moves.ts). The new node's shard asks its
// main once its peers have the session's routes; that main asks every up node's main (NATS
// request on `shoal.<cluster>.mark.<node>`), and each one, once the new node's routes for the
// session's filters have reached its shards (the routes watch, table.ts), has every shard of its
// own put its marker into its streams. Main posts to a shard in one order (its port), so a shard
// marks only after it has the routes: whatever it publishes after its marker goes to the new node.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../shared/config.ts';
import { markSubject } from '../../shared/cluster/names.ts';
import type { MoveSenders, NodeMoveId } from '../../shared/cluster/moves.ts';
import type { NodeTable, ShardPost } from './table.ts';

interface MarkRequest { move: NodeMoveId; senders: MoveSenders; filters: string[] }

export class MoveMarks {
  private readonly config: BrokerConfig;
  private readonly log: Logger;
  private readonly table: NodeTable;
  private readonly shards: ShardPost;
  private nc: NatsConnection | null = null;

  constructor(config: BrokerConfig, log: Logger, table: NodeTable, shards: ShardPost) {
    this.config = config;
    this.log = log;
    this.table = table;
    this.shards = shards;
  }

  /** Answers the other nodes' requests for this node's markers. */
  start(nc: NatsConnection): void {
    this.nc = nc;
    nc.subscribe(markSubject(this.config.clusterName, this.config.clusterNodeId), {
      callback: (err, m) => {
        if (err !== null) return;
        let req: MarkRequest;
        try { req = m.json<MarkRequest>(); } catch { m.respond('0'); return; }
        this.table.whenRoutes(req.move.arrival.node, req.filters, this.config.clusterTimeout).then((ok) => {
          // Without the new node's routes our shards would mark too early (what they sent after it would go nowhere): no markers; the ends time out.
          if (ok) this.shards.broadcast({ type: 'cluster-mark', move: req.move, senders: req.senders });
          else this.log.warn({ client: req.move.clientId, node: req.move.arrival.node }, 'session move: the new node\'s routes did not arrive in time; not marked');
          m.respond(ok ? '1' : '0');
        }, () => m.respond('0'));
      },
    });
  }

  stop(): void { this.nc = null; }

  /** A shard of this node adopted a session from another node: every up node marks, this one too. */
  ask(move: NodeMoveId, filters: string[]): void {
    const senders: MoveSenders = { [this.config.clusterNodeId]: this.config.shards };
    const others = this.table.upNodes();
    for (const [id, shards] of others) senders[id] = shards;
    this.shards.broadcast({ type: 'cluster-mark', move, senders });
    const nc = this.nc;
    if (nc === null) return;
    const body = JSON.stringify({ move, senders, filters } satisfies MarkRequest);
    for (const [id] of others) {
      nc.request(markSubject(this.config.clusterName, id), body, { timeout: 2 * this.config.clusterTimeout }).then(
        (r) => { if (r.string() !== '1') this.log.warn({ client: move.clientId, node: id }, 'session move: a node did not mark its streams'); },
        (err: unknown) => this.log.warn({ err, client: move.clientId, node: id }, 'session move: a node did not answer the request for markers'),
      );
    }
  }
}

// What main can ask of and order the shards as a whole: the clients, subscriptions and retained
// messages of the broker, a kick, a ban, a publish. Each call asks the shards it needs over the
// control channel (channel.ts) with one deadline and says which shards did not answer; the
// admin REST API (src/main/admin/api.ts) and an embedding program use the same calls.
import type { AdminAnswers, AdminQuery, BridgeInfo, ClientInfo, RetainedInfo, Slice, SubscriptionInfo } from '../../shared/admin-query.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { DEFAULT_TIMEOUT_MS, gather, type ShardAsker, type ShardMiss } from '../admin/shard-query.ts';

export { ControlChannel, type ShardPorts } from './channel.ts';

/** A value built from the shards that answered, and which did not (empty: complete). */
export interface Partial<T> { value: T; missing: ShardMiss[]; answered: number }

export interface Page<T> { items: T[]; total: number; offset: number; limit: number }

export interface TopicNode { topic: string; subscribers: number; children?: TopicNode[] }

export const MAX_PAGE = 1000;

export class BrokerControl {
  private readonly asker: ShardAsker<AdminQuery, unknown>;
  private readonly timeoutMs: number;
  private next = 0;

  constructor(asker: ShardAsker<AdminQuery, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.asker = asker;
    this.timeoutMs = timeoutMs;
  }

  private async all<Op extends AdminQuery['op']>(q: Extract<AdminQuery, { op: Op }>, shards?: number[]): Promise<{ values: AdminAnswers[Op][]; missing: ShardMiss[]; answered: number }> {
    const g = await gather(this.asker, q as AdminQuery, this.timeoutMs, shards);
    return { values: g.answers.map((a) => a.value as AdminAnswers[Op]), missing: g.missing, answered: g.answers.length };
  }

  /** Up shards, starting at a rotating one (spreads publishes; the first up answers one-shard questions). */
  private upShards(rotate: boolean): number[] {
    const n = this.asker.count;
    const start = rotate ? (this.next = (this.next + 1) % n) : 0;
    const out: number[] = [];
    for (let k = 0; k < n; k++) { const i = (start + k) % n; if (this.asker.isUp(i)) out.push(i); }
    return out;
  }

  private async paged<T>(q: Extract<AdminQuery, { op: 'clients' | 'subscriptions' }>, offset: number, key: (t: T) => string): Promise<Partial<Page<T>>> {
    const r = await this.all(q as Extract<AdminQuery, { op: 'clients' }>);
    const items: T[] = [];
    let total = 0;
    for (const v of r.values as unknown as Slice<T>[]) { items.push(...v.items); total += v.total; }
    items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const limit = q.limit - offset;
    return { value: { items: items.slice(offset, offset + limit), total, offset, limit }, missing: r.missing, answered: r.answered };
  }

  /** Clients (connected, and persistent sessions offline) whose id contains `match` (any case), by id. */
  clients(match = '', offset = 0, limit = 100): Promise<Partial<Page<ClientInfo>>> {
    return this.paged<ClientInfo>({ op: 'clients', match, limit: offset + limit }, offset, (c) => c.id);
  }

  subscriptions(match = '', client = '', offset = 0, limit = 100): Promise<Partial<Page<SubscriptionInfo>>> {
    return this.paged<SubscriptionInfo>({ op: 'subscriptions', match, client, limit: offset + limit }, offset, (s) => `${s.client_id}\u0000${s.topic}`);
  }

  async client(id: string): Promise<Partial<ClientInfo | null>> {
    const r = await this.all({ op: 'client', id });
    return { value: r.values.find((v) => v !== null) ?? null, missing: r.missing, answered: r.answered };
  }

  /** comqtt's topic tree: every subscription filter split at '/', with subscriber counts. */
  async topics(): Promise<Partial<TopicNode>> {
    const r = await this.all({ op: 'filters' });
    const root: TopicNode = { topic: '', subscribers: 0 };
    for (const filters of r.values) {
      for (const f of filters) {
        let node = root;
        for (const level of f.split('/')) {
          const kids = (node.children ??= []);
          let child = kids.find((c) => c.topic === level);
          if (child === undefined) kids.push(child = { topic: level, subscribers: 0 });
          node = child;
        }
        node.subscribers++;
      }
    }
    const sort = (n: TopicNode): void => { n.children?.sort((a, b) => (a.topic < b.topic ? -1 : 1)).forEach(sort); };
    sort(root);
    return { value: root, missing: r.missing, answered: r.answered };
  }

  /** Disconnects the client wherever it is (v5: DISCONNECT 0x98); value: whether it was connected. */
  async kick(id: string): Promise<Partial<boolean>> {
    const r = await this.all({ op: 'kick', id, reason: Reason.ADMINISTRATIVE_ACTION });
    return { value: r.values.includes(true), missing: r.missing, answered: r.answered };
  }

  /** Removes one subscription of a client's session. */
  async unsubscribe(id: string, filter: string): Promise<Partial<'ok' | 'no-client' | 'no-subscription'>> {
    const r = await this.all({ op: 'unsubscribe', id, filter });
    const value = r.values.includes('ok') ? 'ok' : r.values.includes('no-subscription') ? 'no-subscription' : 'no-client';
    return { value, missing: r.missing, answered: r.answered };
  }

  /** The retained messages whose topic contains `match`, from one shard's replica (each holds all). */
  async retained(match = '', offset = 0, limit = 100): Promise<Partial<Page<RetainedInfo>>> {
    for (const shard of this.upShards(false)) {
      const r = await this.all({ op: 'retained', match, limit: offset + limit }, [shard]);
      if (r.answered === 0) continue;
      const v = r.values[0]!;
      return { value: { items: v.items.slice(offset), total: v.total, offset, limit }, missing: [], answered: 1 };
    }
    return { value: { items: [], total: 0, offset, limit }, missing: Array.from({ length: this.asker.count }, (_, shard) => ({ shard, reason: 'down' as const })), answered: 0 };
  }

  /** Clears a retained topic (through its home shard, committed when this resolves); value: whether it was set. */
  async clearRetained(topic: string): Promise<Partial<boolean>> {
    const up = this.upShards(false);
    const r = await this.all({ op: 'clear-retained', topic }, up.slice(0, 1));
    return { value: r.values[0] ?? false, missing: r.missing, answered: r.answered };
  }

  /** Publishes as the broker through normal routing; QoS 1/2 resolve once committed. */
  async publish(topic: string, payload: string, qos: 0 | 1 | 2, retain: boolean): Promise<Partial<boolean>> {
    const up = this.upShards(true);
    const r = await this.all({ op: 'publish', topic, payload, qos, retain }, up.slice(0, 1));
    return { value: r.answered === 1, missing: r.missing, answered: r.answered };
  }

  /** Bans a client id on every shard (stored once, by the first shard up), disconnecting it. */
  async ban(id: string, banned: boolean): Promise<Partial<boolean>> {
    const writer = this.upShards(false)[0] ?? -1;
    const g = await Promise.all(Array.from({ length: this.asker.count }, (_, i) =>
      this.all(banned ? { op: 'ban', id, write: i === writer } : { op: 'unban', id, write: i === writer }, [i])));
    return {
      value: g.some((r) => r.values[0] === true),
      missing: g.flatMap((r) => r.missing),
      answered: g.reduce((s, r) => s + r.answered, 0),
    };
  }

  /** Every bridge's status, from the shard that runs it, by name. */
  async bridges(): Promise<Partial<BridgeInfo[]>> {
    const r = await this.all({ op: 'bridges' });
    return { value: r.values.flat().sort((a, b) => (a.name < b.name ? -1 : 1)), missing: r.missing, answered: r.answered };
  }

  async banned(): Promise<Partial<string[]>> {
    const r = await this.all({ op: 'banned' });
    return { value: [...new Set(r.values.flat())].sort(), missing: r.missing, answered: r.answered };
  }
}

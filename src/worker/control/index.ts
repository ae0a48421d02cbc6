// The control room: answers every question and order main sends a shard (src/shared/admin-query.ts:
// the admin port's and the embedding API's, one table, one answer each), over the worker's
// MessagePort. Control, not the data path: nothing here runs per message, and each handler reads
// only the parts it names (ControlParts).
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { StatsBlock } from '../../shared/stats.ts';
import { ConnState } from '../net/conn-state.ts';
import { Message } from '../session/message.ts';
import type { Connection } from '../net/connection.ts';
import type { HookRegistry } from '../hooks/registry.ts';
import { connectedClients, ownMessage } from '../embed/control.ts';
import type { Session } from '../session/session.ts';
import type { Subscription } from '../session/subscription.ts';
import type { AdminAnswers, AdminQuery, BridgeInfo, ClientInfo, RetainedInfo, Slice, SubscriptionInfo } from '../../shared/admin-query.ts';
import { RETAINED_PAYLOAD_CAP } from '../../shared/admin-query.ts';
import type { BannedIds } from './banned.ts';
import { waitForCommit, type GateParts } from './commit-wait.ts';

/** What the control room reads and calls on its shard. */
export interface ControlParts extends GateParts {
  readonly id: number;
  readonly stats: StatsBlock;
  readonly sessions: ReadonlyMap<string, Session>;
  readonly routing: { publish(msg: Message, now: number): void; remove(sub: Subscription): void };
  readonly retained: { entries(): Iterable<Message>; get(topic: string): Message | null };
  readonly retainSync: { set(msg: Message): Promise<void> };
  readonly lifecycle: { persist(s: Session): void };
  readonly banned: BannedIds;
  readonly connections: ReadonlySet<Connection>;
  readonly hooks: HookRegistry;
  /** The embedding API's events hook (embed/control.ts). */
  readonly events: { set(on: boolean): void };
  /** The bridges this shard runs (worker/bridge/). */
  readonly bridges: { status(): BridgeInfo[] };
}

const lower = (s: string): string => s.toLowerCase();
const matches = (s: string, m: string): boolean => m === '' || lower(s).includes(m);

/** The first `limit` of the matching items in order, and how many matched. */
function slice<T>(items: T[], key: (t: T) => string, limit: number): Slice<T> {
  items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { items: items.slice(0, limit), total: items.length };
}

export function clientInfo(shard: number, s: Session): ClientInfo {
  const c = s.conn;
  const online = c !== null && c.state === ConnState.CONNECTED;
  return {
    id: s.clientId,
    ip: online ? `${c.socket.remoteAddress ?? ''}:${c.socket.remotePort ?? ''}` : '',
    online,
    username: online ? c.username : '',
    topic_filters: [...s.subs.keys()],
    protocol_version: s.version,
    session_clean: !s.persistent,
    will_topic_name: s.will?.topic ?? '',
    will_payload: s.will === null ? '' : s.will.payload.toString('utf8'),
    will_retain: s.will?.retain ?? false,
    inflight_count: s.inflight.size,
    queued_count: s.queued,
    connected_at: online ? new Date(c.connectedAt).toISOString() : '',
    bytes_received: online ? c.bytesReceived : 0,
    bytes_sent: online ? c.bytesSent : 0,
    keepalive: online ? c.keepaliveMs / 1000 : 0,
    shard,
  };
}

export class ControlRoom {
  private readonly sh: ControlParts;
  constructor(parts: ControlParts) { this.sh = parts; }

  /** One query's answer; rejects only for a bug (main reports it as that shard's error). */
  async answer(q: AdminQuery): Promise<AdminAnswers[AdminQuery['op']]> {
    const sh = this.sh;
    switch (q.op) {
      case 'client': {
        const s = sh.sessions.get(q.id);
        return s === undefined ? null : clientInfo(sh.id, s);
      }
      case 'clients': {
        const m = lower(q.match);
        const out: ClientInfo[] = [];
        for (const s of sh.sessions.values()) if (matches(s.clientId, m)) out.push(clientInfo(sh.id, s));
        return slice(out, (c) => c.id, q.limit);
      }
      case 'subscriptions': {
        const m = lower(q.match);
        const cm = lower(q.client);
        const out: SubscriptionInfo[] = [];
        for (const s of sh.sessions.values()) {
          if (!matches(s.clientId, cm)) continue;
          for (const sub of s.subs.values()) {
            if (!matches(sub.filter, m)) continue;
            const row: SubscriptionInfo = { client_id: s.clientId, topic: sub.filter, qos: sub.qos, no_local: sub.noLocal, retain_as_published: sub.retainAsPublished };
            if (sub.subscriptionId !== 0) row.identifier = sub.subscriptionId;
            out.push(row);
          }
        }
        return slice(out, (r) => `${r.client_id}\u0000${r.topic}`, q.limit);
      }
      case 'filters': {
        const out: string[] = [];
        for (const s of sh.sessions.values()) for (const f of s.subs.keys()) out.push(f);
        return out;
      }
      case 'retained': {
        // Every shard holds the whole replica: main asks one.
        const m = lower(q.match);
        const out: RetainedInfo[] = [];
        for (const msg of sh.retained.entries()) {
          if (!matches(msg.topic, m)) continue;
          out.push({ topic: msg.topic, qos: msg.qos, size: msg.payload.length, payload: msg.payload.subarray(0, RETAINED_PAYLOAD_CAP).toString('utf8') });
        }
        return slice(out, (r) => r.topic, q.limit);
      }
      case 'clear-retained': {
        if (sh.retained.get(q.topic) === null) return false;
        // Through the topic's home shard like any retained clear; settles once committed.
        await sh.retainSync.set(new Message(q.topic, Buffer.alloc(0), 0, true, null, 0, ''));
        return true;
      }
      case 'kick': return this.kick(q.id, q.reason);
      case 'unsubscribe': {
        const s = sh.sessions.get(q.id);
        if (s === undefined) return 'no-client';
        const sub = s.subs.get(q.filter);
        if (sub === undefined) return 'no-subscription';
        s.writableSubs().delete(q.filter);
        sh.routing.remove(sub);
        sh.lifecycle.persist(s);
        return 'ok';
      }
      case 'publish': {
        const msg = ownMessage(q.topic, q.payload, q.qos, q.retain, q.properties);
        const mark = sh.durability.mark();
        sh.routing.publish(msg, Date.now());
        // QoS 1/2: answered once committed everywhere it went, like a client's PUBACK.
        if (q.qos !== 0 && sh.durability.changedSince(mark)) {
          await waitForCommit(sh).catch((err: unknown) => { throw new ShoalError(ErrorCode.PUBLISH_FAILED, (err as Error).message); });
        }
        return true;
      }
      case 'ban': {
        const changed = await sh.banned.set(q.id, true, q.write);
        this.kick(q.id, Reason.ADMINISTRATIVE_ACTION);
        return changed;
      }
      case 'unban': return sh.banned.set(q.id, false, q.write);
      case 'banned': return sh.banned.list();
      case 'connected': return connectedClients(sh.connections, sh.id, sh.hooks, q.id);
      case 'events': sh.events.set(q.on); return true;
      case 'bridges': return sh.bridges.status();
    }
  }

  /** Disconnects the client's connection on this shard (v5: DISCONNECT with `reason`); false when it has none here. */
  private kick(id: string, reason: number): boolean {
    const s = this.sh.sessions.get(id);
    const c = s?.conn ?? null;
    if (c === null || c.state === ConnState.CLOSED) return false;
    c.disconnect(reason);
    return true;
  }
}

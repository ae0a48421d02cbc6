// Mapping between in-memory sessions/messages and the store's records.
import type { StoredMessage, StoredSession } from '../../shared/store/index.ts';
import { Message } from '../session/message.ts';
import { Session } from '../session/session.ts';
import { type Subscription } from '../session/subscription.ts';
import { parseFilter } from '../session/subscription.ts';

export function toStoredMessage(m: Message): StoredMessage {
  return { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, properties: m.props, expiresAt: m.expiresAt };
}

export function fromStoredMessage(m: StoredMessage): Message {
  return new Message(m.topic, m.payload, m.qos, m.retain, m.properties, m.expiresAt, '');
}

export function toStoredSession(s: Session): StoredSession {
  return {
    clientId: s.clientId,
    protocolVersion: s.version as 3 | 4 | 5,
    expiryInterval: s.expiryInterval,
    disconnectedAt: s.disconnectedAt,
    subscriptions: [...s.subs.values()].map((x) => ({
      filter: x.filter, qos: x.qos, noLocal: x.noLocal, retainAsPublished: x.retainAsPublished,
      retainHandling: x.retainHandling, subscriptionId: x.subscriptionId,
    })),
    will: s.will === null ? null : { topic: s.will.topic, payload: s.will.payload, qos: s.will.qos, retain: s.will.retain, properties: s.will.props, delayMs: s.will.delayMs },
    nextPacketId: s.nextPacketId,
    ...(s.userKnown ? { username: s.username ?? null } : {}),
  };
}

export function fromStoredSession(st: StoredSession): Session {
  const s = new Session(st.clientId, st.protocolVersion, st.expiryInterval);
  s.disconnectedAt = st.disconnectedAt;
  s.nextPacketId = st.nextPacketId || 1;
  s.username = st.username ?? undefined;
  s.userKnown = st.username !== undefined;
  for (const x of st.subscriptions) {
    const { topicFilter, group } = parseFilter(x.filter);
    const sub: Subscription = { session: s, filter: x.filter, topicFilter, group, qos: x.qos, noLocal: x.noLocal, retainAsPublished: x.retainAsPublished, retainHandling: x.retainHandling, subscriptionId: x.subscriptionId, guard: null };
    s.writableSubs().set(x.filter, sub);
  }
  if (st.will !== null) s.will = { topic: st.will.topic, payload: st.will.payload, qos: st.will.qos, retain: st.will.retain, props: st.will.properties, expiry: -1, delayMs: st.will.delayMs };
  return s;
}

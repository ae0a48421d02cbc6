// The points of a client's and a shard's life that the shard, the CONNACK and the session
// lifecycle call: each call site is one line guarded by the point's flag.
import type { Logger } from 'pino';
import type { Connection } from '../net/connection.ts';
import type { Message } from '../session/message.ts';
import type { Outbound, Session } from '../session/session.ts';
import type { ShardContext } from '../context.ts';
import type { DropReason, HookPublish } from './hook.ts';
import { clientOf, type HookRegistry } from './registry.ts';

/** onSessionEstablished, after CONNACK 0x00. */
export function established(conn: Connection, sessionPresent: boolean): void {
  const sh = conn.shard;
  sh.hooks.notify('onSessionEstablished', sh.log, clientOf(conn, sh.id, sh.hooks.usernames), sessionPresent);
}

/**
 * onDisconnect, when a connected client's connection closed, or is closed because another
 * CONNECT takes its session (`takeover`); `expire`: its session lives on.
 */
export function disconnected(sh: ShardContext, conn: Connection, expire: boolean, takeover = false): void {
  const hooks = sh.hooks;
  if (hooks.has.onDisconnect) hooks.notify('onDisconnect', sh.log, clientOf(conn, sh.id, hooks.usernames), expire, takeover);
}

/**
 * Any connection closed (connected, refused or taken over): its client's user name is
 * forgotten unless another connection of this shard now holds that client id.
 */
export function forgetClient(hooks: HookRegistry, sessions: ReadonlyMap<string, { conn: Connection | null }>, conn: Connection): void {
  const live = sessions.get(conn.clientId)?.conn;
  if (live === undefined || live === null || live === conn) hooks.usernames.delete(conn.clientId);
}

/** onStopped on every hook, each given up to the hook timeout. */
export async function stopped(hooks: HookRegistry, log: Logger): Promise<void> {
  for (const f of hooks.list('onStopped')) {
    try { await hooks.within(Promise.resolve(f()), undefined); } catch (err) { log.warn({ err }, 'hook onStopped failed'); }
  }
}

const asPublish = (m: Message): HookPublish => ({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain });
// A delivery as its subscriber gets it: the delivery QoS and retain flag, not the publisher's.
const asDelivered = (o: Outbound): HookPublish => ({ topic: o.msg.topic, payload: o.msg.payload, qos: o.qos, retain: o.retain });

/** onWill: the will `msg` of `clientId` as the hooks leave it, or null when one drops it. */
export function willOf(sh: ShardContext, clientId: string, msg: Message): Message | null {
  let w = asPublish(msg);
  for (const f of sh.hooks.list('onWill')) {
    let r: HookPublish | boolean | void;
    try { r = f(clientId, w); } catch (err) { sh.log.warn({ err }, 'hook onWill failed'); continue; }
    if (r === false) return null;
    if (typeof r === 'object' && r !== null) w = r;
  }
  if (w.topic === msg.topic && w.payload === msg.payload && w.qos === msg.qos && w.retain === msg.retain) return msg;
  msg.topic = w.topic;
  msg.payload = w.payload;
  msg.qos = w.qos;
  msg.retain = w.retain;
  return msg;
}

/** onWillSent. */
export function willSent(sh: ShardContext, clientId: string, msg: Message): void {
  sh.hooks.notify('onWillSent', sh.log, clientId, asPublish(msg));
}

/** onRetainPublished: a retained message sent to `conn` after its SUBACK. */
export function retainPublished(conn: Connection, msg: Message): void {
  const sh = conn.shard;
  sh.hooks.notify('onRetainPublished', sh.log, clientOf(conn, sh.id, sh.hooks.usernames), asPublish(msg));
}

/** onQosComplete: an outbound QoS 1/2 message acknowledged. */
export function qosComplete(conn: Connection, packetId: number, qos: 1 | 2): void {
  const sh = conn.shard;
  sh.hooks.notify('onQosComplete', sh.log, clientOf(conn, sh.id, sh.hooks.usernames), packetId, qos);
}

/** onQosPublish: the QoS 1/2 PUBLISH of `o` sent to the session's connection (`resend`: again, with DUP). */
export function qosPublished(sh: ShardContext, s: Session, o: Outbound, resend: boolean): void {
  sh.hooks.notify('onQosPublish', sh.log, clientOf(s.conn!, sh.id, sh.hooks.usernames), asDelivered(o), o.packetId, resend);
}

/** onQosDropped: `o` left the session's flow unacknowledged. */
export function qosDropped(sh: ShardContext, s: Session, o: Outbound): void {
  sh.hooks.notify('onQosDropped', sh.log, s.clientId, asDelivered(o), o.packetId);
}

/** onQosDropped for every message in flight of a session that ends. */
export function inflightDropped(sh: ShardContext, s: Session): void {
  if (!sh.hooks.has.onQosDropped) return;
  for (const o of s.inflight.values()) qosDropped(sh, s, o);
}

/** onPublishDropped: `msg`, at `qos` for the session, not delivered. */
export function publishDropped(sh: ShardContext, s: Session, msg: Message, qos: 0 | 1 | 2, reason: DropReason): void {
  sh.hooks.notify('onPublishDropped', sh.log, s.clientId, { topic: msg.topic, payload: msg.payload, qos, retain: msg.retain }, reason);
}

/** onRetainedExpired, on the topic's home shard. */
export function retainedExpired(sh: ShardContext, topic: string): void {
  sh.hooks.notify('onRetainedExpired', sh.log, topic);
}

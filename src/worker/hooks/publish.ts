// A client's PUBLISH through the hooks: onACLCheck (write), then onPublish (may change or
// refuse), then routing, onPublished and onRetainMessage. Answers that are promises hold the
// connection's later packets (and its reads) until the verdict, bounded by --hook-timeout; the
// shard goes on with everyone else meanwhile. Synchronous answers allocate no closures and
// stay in this turn.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { validateTopicName } from '../../shared/topics/validate.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { Message } from '../session/message.ts';
import type { InboundPublish } from '../protocol/publish-codec.ts';
import type { HookClient, HookPublish, Maybe } from './hook.ts';
import { clientOf, isThenable, verdictCode, type HookRegistry } from './registry.ts';

/** The handler's ends of a PUBLISH: acknowledged (after routing, `mark` from before it), or refused with a reason. */
export interface PublishEnds {
  accept(conn: Connection, qos: number, packetId: number, mark: number): void;
  refuse(conn: Connection, qos: number, packetId: number, reason: number): void;
}

/** onPublish's outcome: the packet to route, or a refusal's reason code. */
type Outcome = HookPublish | number;
type OnPublish = (client: HookClient, packet: HookPublish) => Maybe<HookPublish | boolean | number | void>;

// The packet hooks saw last: the handler's onPublished after an unchanged PUBLISH reports it
// (one PUBLISH is handled to the end before the next is decoded).
let last: HookPublish | null = null;

/**
 * The hooks' verdict on a client's PUBLISH (`p` as decoded, `topic` with its alias resolved).
 * False: allowed unchanged, decided now: the handler routes it as it would without hooks (its
 * fast paths intact) and calls `published`. True: the hooks took it (refused, changed, or waiting
 * for an answer) and this module routes and acknowledges it through `ends`.
 */
export function interceptPublish(conn: Connection, p: InboundPublish, topic: string, ends: PublishEnds): boolean {
  const sh = conn.shard;
  const hooks = sh.hooks;
  const client = clientOf(conn, sh.id, hooks.usernames);
  const list = hooks.list('onPublish') as OnPublish[];
  const packet: HookPublish = { topic, payload: p.payload, qos: p.qos, retain: p.retain };
  last = packet;
  const packetId = p.packetId;
  if (hooks.has.onACLCheck) {
    const acl = hooks.decide('onACLCheck', Reason.NOT_AUTHORIZED, [client, topic, true]);
    if (isThenable(acl)) { later(conn, messageOf(conn, p, topic), packetId, ends, client, acl.then((code) => (code !== 0 ? code : runOnPublish(hooks, client, packet, 0, list)))); return true; }
    if (acl !== 0) { ends.refuse(conn, p.qos, packetId, acl); return true; }
  }
  const out = runOnPublish(hooks, client, packet, 0, list);
  if (out === packet) return false;
  const msg = messageOf(conn, p, topic);
  if (isThenable(out)) later(conn, msg, packetId, ends, client, out);
  else done(conn, msg, packetId, ends, client, out);
  return true;
}

/** onPublished / onRetainMessage of a PUBLISH the handler routed (interceptPublish said false). */
export function published(conn: Connection): void {
  const sh = conn.shard;
  const out = last!;
  const client = clientOf(conn, sh.id, sh.hooks.usernames);
  if (sh.hooks.has.onPublished) sh.hooks.notify('onPublished', sh.log, client, out);
  if (out.retain && sh.hooks.has.onRetainMessage) sh.hooks.notify('onRetainMessage', sh.log, client, out);
}

function messageOf(conn: Connection, p: InboundPublish, topic: string): Message {
  return new Message(topic, p.payload, p.qos, p.retain, p.props, p.messageExpiry >= 0 ? Date.now() + p.messageExpiry * 1000 : 0, conn.clientId);
}


/** Holds the connection's packets until `verdict` (or the timeout: a refusal). */
function later(conn: Connection, msg: Message, packetId: number, ends: PublishEnds, client: HookClient, verdict: PromiseLike<Outcome>): void {
  msg.detach(); // the payload must not point into the read buffer past this turn
  conn.deferPackets();
  const hooks = conn.shard.hooks;
  hooks.within(verdict, Reason.UNSPECIFIED_ERROR as Outcome, (err) => hooks.failed('onPublish', err, conn.clientId)).then((out) => {
    if (conn.state === ConnState.CLOSED) return;
    done(conn, msg, packetId, ends, client, out);
    conn.resumePackets();
  });
}

function runOnPublish(hooks: HookRegistry, client: HookClient, packet: HookPublish, i: number, list: OnPublish[]): Maybe<Outcome> {
  for (; i < list.length; i++) {
    let r: Maybe<HookPublish | boolean | number | void>;
    try { r = list[i]!(client, packet); } catch (err) { hooks.failed('onPublish', err, client.clientId); return Reason.IMPLEMENTATION_SPECIFIC_ERROR; }
    if (isThenable(r)) {
      const next = i + 1;
      const prev = packet;
      return Promise.resolve(r).then((v) => {
        const o = apply(v, prev);
        return typeof o === 'number' ? o : runOnPublish(hooks, client, o, next, list);
      });
    }
    const o = apply(r, packet);
    if (typeof o === 'number') return o;
    packet = o;
  }
  return packet;
}

function apply(v: HookPublish | boolean | number | void, packet: HookPublish): Outcome {
  if (typeof v === 'object' && v !== null) return v;
  const code = verdictCode(v, Reason.IMPLEMENTATION_SPECIFIC_ERROR);
  return code === 0 ? packet : code;
}

function done(conn: Connection, msg: Message, packetId: number, ends: PublishEnds, client: HookClient, out: Outcome): void {
  if (typeof out === 'number') { ends.refuse(conn, msg.qos, packetId, out); return; }
  const sh = conn.shard;
  const hooks = sh.hooks;
  let m = msg;
  if (out.topic !== msg.topic || out.payload !== msg.payload || out.qos !== msg.qos || out.retain !== msg.retain) {
    if (validateTopicName(out.topic) !== null) { ends.refuse(conn, msg.qos, packetId, Reason.TOPIC_NAME_INVALID); return; }
    m = new Message(out.topic, Buffer.from(out.payload), out.qos, out.retain, msg.props, msg.expiresAt, msg.origin);
  }
  const mark = sh.durability.mark();
  sh.routing.publish(m, Date.now());
  if (hooks.has.onPublished) hooks.notify('onPublished', sh.log, client, out);
  if (m.retain && hooks.has.onRetainMessage) hooks.notify('onRetainMessage', sh.log, client, out);
  ends.accept(conn, msg.qos, packetId, mark);
}

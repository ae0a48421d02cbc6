// A client's PUBLISH through the hooks: onACLCheck (write), then onPublish (may change or
// refuse), then routing, onPublished and onRetainMessage. Answers that are promises hold the
// connection's later packets (and its reads) until the verdict, bounded by --hook-timeout; the
// shard goes on with everyone else meanwhile.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { validateTopicName } from '../../shared/topics/validate.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { Message } from '../session/message.ts';
import type { HookClient, HookPublish, Maybe } from './hook.ts';
import { clientOf, isThenable, verdictCode } from './registry.ts';

/** The handler's ends of a PUBLISH: acknowledged (after routing, `mark` from before it), or refused with a reason. */
export interface PublishEnds {
  accept(conn: Connection, qos: number, packetId: number, mark: number): void;
  refuse(conn: Connection, qos: number, packetId: number, reason: number): void;
}

/** `msg` as the client sent it; the original QoS and packet id are the client's flow, whatever a hook changes. */
export function interceptPublish(conn: Connection, msg: Message, packetId: number, ends: PublishEnds): void {
  const sh = conn.shard;
  const hooks = sh.hooks;
  const client = clientOf(conn, sh.id, hooks.usernames);
  const qos = msg.qos;
  let held = false;
  const hold = (): void => { if (!held) { held = true; msg.detach(); conn.deferPackets(); } };
  const finish = (code: number, out: HookPublish | null): void => {
    if (conn.state === ConnState.CLOSED) return;
    if (code !== 0) ends.refuse(conn, qos, packetId, code);
    else route(conn, msg, out, client, packetId, ends);
    if (held) conn.resumePackets();
  };
  const afterAcl = (code: number): void => {
    if (code !== 0 || !hooks.has.onPublish) { finish(code, null); return; }
    const r = runOnPublish(client, { topic: msg.topic, payload: msg.payload, qos: msg.qos, retain: msg.retain }, 0, hooks.list('onPublish'));
    if (isThenable(r)) { hold(); hooks.within(r, FAILED).then((v) => finish(v.code, v.packet)); } else finish(r.code, r.packet);
  };
  const acl = hooks.has.onACLCheck ? hooks.decide('onACLCheck', Reason.NOT_AUTHORIZED, [client, msg.topic, true]) : 0;
  if (isThenable(acl)) { hold(); acl.then(afterAcl); } else afterAcl(acl);
}

interface Outcome { code: number; packet: HookPublish | null }
const FAILED: Outcome = { code: Reason.UNSPECIFIED_ERROR, packet: null };
type OnPublish = (client: HookClient, packet: HookPublish) => Maybe<HookPublish | boolean | number | void>;

function runOnPublish(client: HookClient, packet: HookPublish, i: number, list: OnPublish[]): Maybe<Outcome> {
  for (; i < list.length; i++) {
    let r: Maybe<HookPublish | boolean | number | void>;
    try { r = list[i]!(client, packet); } catch { return { code: Reason.IMPLEMENTATION_SPECIFIC_ERROR, packet: null }; }
    if (isThenable(r)) {
      const next = i + 1;
      return Promise.resolve(r).then((v) => {
        const o = apply(v, packet);
        return o.code !== 0 ? o : runOnPublish(client, o.packet!, next, list);
      });
    }
    const o = apply(r, packet);
    if (o.code !== 0) return o;
    packet = o.packet!;
  }
  return { code: 0, packet };
}

function apply(v: HookPublish | boolean | number | void, packet: HookPublish): Outcome {
  if (typeof v === 'object' && v !== null) return { code: 0, packet: v };
  const code = verdictCode(v, Reason.IMPLEMENTATION_SPECIFIC_ERROR);
  return { code, packet: code === 0 ? packet : null };
}

function route(conn: Connection, msg: Message, out: HookPublish | null, client: HookClient, packetId: number, ends: PublishEnds): void {
  const sh = conn.shard;
  const hooks = sh.hooks;
  let m = msg;
  if (out !== null && (out.topic !== msg.topic || out.payload !== msg.payload || out.qos !== msg.qos || out.retain !== msg.retain)) {
    if (validateTopicName(out.topic) !== null) { ends.refuse(conn, msg.qos, packetId, Reason.TOPIC_NAME_INVALID); return; }
    m = new Message(out.topic, Buffer.from(out.payload), out.qos, out.retain, msg.props, msg.expiresAt, msg.origin);
  }
  const mark = sh.durability.mark();
  sh.routing.publish(m, Date.now());
  if (hooks.has.onPublished || hooks.has.onRetainMessage) {
    const seen: HookPublish = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain };
    hooks.notify('onPublished', sh.log, client, seen);
    if (m.retain) hooks.notify('onRetainMessage', sh.log, client, seen);
  }
  ends.accept(conn, msg.qos, packetId, mark);
}

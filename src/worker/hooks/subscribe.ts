// A client's SUBSCRIBE through the hooks: onACLCheck (read) per filter, then onSubscribe over the
// list (may change a filter's QoS or refuse it). The verdicts are kept for the handler, which then
// runs on the packet as usual and answers a refused filter with its reason code in SUBACK. Answers
// that are promises hold the connection's later packets, bounded by --hook-timeout.
// UNSUBSCRIBE and the after-the-fact points only observe.
import type mqttPacket from 'mqtt-packet';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import type { HookSubscription, Maybe } from './hook.ts';
import { clientOf, isThenable } from './registry.ts';

/** Per SUBSCRIBE packet the hooks decided: 0 allowed, else the reason code of its filter. */
const verdicts = new WeakMap<mqttPacket.ISubscribePacket, number[]>();

/**
 * Decides the packet's filters; true when it took the packet over (the handler runs again on it
 * once decided), false when the packet is already decided.
 */
export function interceptSubscribe(conn: Connection, p: mqttPacket.ISubscribePacket, handle: (conn: Connection, p: mqttPacket.Packet) => void): boolean {
  if (verdicts.has(p)) return false;
  const sh = conn.shard;
  const hooks = sh.hooks;
  const client = clientOf(conn, sh.id, hooks.usernames);
  const codes = p.subscriptions.map(() => 0);
  let held = false;
  const done = (): void => {
    verdicts.set(p, codes);
    if (conn.state === ConnState.CLOSED) return;
    try { handle(conn, p); } catch (err) { sh.log.warn({ err }, 'subscribe after hooks failed'); conn.close(); }
    if (held) conn.resumePackets();
  };
  const hold = (): void => { if (!held) { held = true; conn.deferPackets(); } };
  const onSubscribe = (): void => {
    if (!hooks.has.onSubscribe) { done(); return; }
    const list: HookSubscription[] = p.subscriptions.map((s, i) => ({ filter: s.topic, qos: (codes[i]! !== 0 ? codes[i] : s.qos) as 0 | 1 | 2 }));
    const failed = (err: unknown): void => hooks.failed('onSubscribe', err, conn.clientId);
    const r = runOnSubscribe(list, hooks.list('onSubscribe').map((f) => (l: HookSubscription[]) => f(client, l)), failed);
    const apply = (out: HookSubscription[]): void => {
      out.forEach((s, i) => {
        if (i >= codes.length || codes[i] !== 0) return;
        if (s.qos >= 0x80) codes[i] = s.qos; else p.subscriptions[i]!.qos = s.qos;
      });
      done();
    };
    if (isThenable(r)) { hold(); hooks.within(r, list.map((s) => ({ ...s, qos: Reason.UNSPECIFIED_ERROR as 0 })), failed).then(apply); } else apply(r);
  };
  if (!hooks.has.onACLCheck) { onSubscribe(); return true; }
  let pending = 0;
  const files = conn.session?.guard ?? null;
  p.subscriptions.forEach((s, i) => {
    // The files first (docs/hooks.md, "Order"): a filter the ACL file denies is not asked of the
    // modules; the handler refuses it as the file's (counted, logged).
    if (files !== null && files.subscribeVerdict(s.topic) === 'deny') return;
    const v = hooks.decide('onACLCheck', Reason.NOT_AUTHORIZED, [client, s.topic, false]);
    if (isThenable(v)) {
      hold();
      pending++;
      v.then((c) => { codes[i] = c; if (--pending === 0) onSubscribe(); });
    } else codes[i] = v;
  });
  if (pending === 0) onSubscribe();
  return true;
}

function runOnSubscribe(list: HookSubscription[], fns: ((l: HookSubscription[]) => Maybe<HookSubscription[] | void>)[], failed: (err: unknown) => void, i = 0): Maybe<HookSubscription[]> {
  for (; i < fns.length; i++) {
    let r: Maybe<HookSubscription[] | void>;
    try { r = fns[i]!(list); } catch (err) { failed(err); return list.map((s) => ({ ...s, qos: Reason.IMPLEMENTATION_SPECIFIC_ERROR as 0 })); }
    if (isThenable(r)) {
      const next = i + 1;
      return Promise.resolve(r).then((v) => runOnSubscribe(Array.isArray(v) && v.length === list.length ? v : list, fns, failed, next));
    }
    if (Array.isArray(r) && r.length === list.length) list = r;
  }
  return list;
}

/** In the handler's loop: the filter at `index` was refused by a hook; its reason is pushed to `granted`. */
export function refusedByHook(p: mqttPacket.ISubscribePacket, index: number, granted: number[], version: number): boolean {
  const code = verdicts.get(p)?.[index] ?? 0;
  if (code === 0) return false;
  granted.push(version === 5 ? code : 0x80);
  return true;
}

/** onSubscribed, after SUBACK. */
export function subscribed(conn: Connection, p: mqttPacket.ISubscribePacket, granted: number[]): void {
  const sh = conn.shard;
  sh.hooks.notify('onSubscribed', sh.log, clientOf(conn, sh.id, sh.hooks.usernames), p.subscriptions.map((s) => ({ filter: s.topic, qos: s.qos as 0 | 1 | 2 })), granted);
}

/** onUnsubscribe (before) or onUnsubscribed (after UNSUBACK). */
export function unsubscribing(conn: Connection, p: mqttPacket.IUnsubscribePacket, after: boolean): void {
  const sh = conn.shard;
  sh.hooks.notify(after ? 'onUnsubscribed' : 'onUnsubscribe', sh.log, clientOf(conn, sh.id, sh.hooks.usernames), [...p.unsubscriptions]);
}

// Binary form of a whole session, for moving it between shards on takeover (no JSON, no
// structured clone). Version byte first so the format can evolve.
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { readMessageBody, type Message } from '../session/message.ts';
import { Session, type Outbound } from '../session/session.ts';
import { type Subscription } from '../session/subscription.ts';

const FORMAT = 3; // 2: outbound store sequence numbers (seq per message, nextSeq); 3: the user name
const w = new ByteWriter(4096);
const r = new ByteReader();

function writeMsg(msg: Message): void {
  w.u8(msg.qos | (msg.retain ? 4 : 0)).f64(msg.expiresAt).str(msg.topic).str(msg.origin).maybeBytes(msg.props).bytes(msg.payload);
}
function readMsg(): Message { return readMessageBody(r, r.u8()); }
function writeOutbound(o: Outbound): void {
  w.u8(o.qos | (o.retain ? 4 : 0)).u8(o.state).u16(o.packetId).f64(o.seq);
  const ids = o.subIds ?? [];
  w.u16(ids.length);
  for (const id of ids) w.u32(id);
  writeMsg(o.msg);
}
function readOutbound(): Outbound {
  const f = r.u8();
  const state = r.u8() as 0 | 1 | 2;
  const packetId = r.u16();
  const seq = r.f64();
  const n = r.u16();
  const subIds: number[] | null = n > 0 ? [] : null;
  for (let i = 0; i < n; i++) subIds!.push(r.u32());
  return { qos: (f & 3) as 0 | 1 | 2, retain: (f & 4) !== 0, state, packetId, subIds, seq, msg: readMsg() };
}

export function encodeSession(s: Session): Buffer {
  w.reset();
  w.u8(FORMAT).u8(s.version).u32(s.expiryInterval).u16(s.nextPacketId).f64(s.nextSeq).f64(s.disconnectedAt);
  w.u32(s.subs.size);
  for (const sub of s.subs.values()) {
    w.str(sub.filter).u8(sub.qos | (sub.noLocal ? 4 : 0) | (sub.retainAsPublished ? 8 : 0) | (sub.retainHandling << 4)).u32(sub.subscriptionId);
  }
  w.u32(s.inflight.size);
  for (const o of s.inflight.values()) writeOutbound(o);
  w.u32(s.queued);
  for (let i = s.queueHead; i < s.queue.length; i++) writeOutbound(s.queue[i]!);
  w.u32(s.inboundQos2.size);
  for (const id of s.inboundQos2) w.u16(id);
  const will = s.will;
  w.u8(will === null ? 0 : 1);
  if (will !== null) {
    w.u8(will.qos | (will.retain ? 4 : 0)).str(will.topic).bytes(will.payload).maybeBytes(will.props).f64(will.expiry).f64(will.delayMs);
  }
  // the user name: 0 none, 1 known (then the name), 2 unknown (a store record older than the field)
  w.u8(!s.userKnown ? 2 : s.username === undefined ? 0 : 1);
  if (s.userKnown && s.username !== undefined) w.str(s.username);
  // Last and optional (a decoder that predates it reads nothing past the user name): the QoS 2
  // ids whose resend goes to the other nodes only (Session.reforward).
  const again = s.reforward;
  if (again !== null && again.size > 0) {
    w.u16(again.size);
    for (const id of again) w.u16(id);
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Rebuilds a session; subscriptions reference it but are not yet in any routing table. */
export function decodeSession(clientId: string, buf: Buffer, parseFilter: (filter: string) => { topicFilter: string; group: string | null }): Session {
  r.at(buf, 0, buf.length);
  const format = r.u8();
  if (format !== FORMAT) throw new Error(`unknown session format ${format}`);
  const s = new Session(clientId, r.u8(), r.u32());
  s.nextPacketId = r.u16() || 1;
  s.nextSeq = r.f64();
  s.disconnectedAt = r.f64();
  const nsubs = r.u32();
  for (let i = 0; i < nsubs; i++) {
    const filter = r.str();
    const f = r.u8();
    const subscriptionId = r.u32();
    const { topicFilter, group } = parseFilter(filter);
    const sub: Subscription = {
      session: s, filter, topicFilter, group, qos: (f & 3) as 0 | 1 | 2, noLocal: (f & 4) !== 0,
      retainAsPublished: (f & 8) !== 0, retainHandling: ((f >> 4) & 3) as 0 | 1 | 2, subscriptionId, guard: null,
    };
    s.writableSubs().set(filter, sub);
  }
  const ninflight = r.u32();
  for (let i = 0; i < ninflight; i++) { const o = readOutbound(); s.writableInflight().set(o.packetId, o); }
  const nqueue = r.u32();
  for (let i = 0; i < nqueue; i++) s.enqueue(readOutbound());
  const nq2 = r.u32();
  for (let i = 0; i < nq2; i++) s.writableInboundQos2().add(r.u16());
  if (r.u8() === 1) {
    const f = r.u8();
    s.will = { qos: (f & 3) as 0 | 1 | 2, retain: (f & 4) !== 0, topic: r.str(), payload: r.bytes(), props: r.maybeBytes(), expiry: r.f64(), delayMs: r.f64() };
  }
  const user = r.u8();
  s.userKnown = user !== 2;
  if (user === 1) s.username = r.str();
  if (r.pos < r.end) {
    const n = r.u16();
    if (n > 0) s.reforward = new Set();
    for (let i = 0; i < n; i++) s.reforward!.add(r.u16());
  }
  return s;
}

// Enhanced authentication (MQTT 5 section 4.12): the AUTH exchange after a CONNECT that named an
// Authentication Method, and re-authentication (AUTH 0x19) on a connected client. The hook
// (src/worker/auth/hook.ts) decides; this file owns the packets, the states and the reason codes.
import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../../shared/errors.ts';
import { PacketType } from '../../../shared/protocol/constants.ts';
import { isReasonValidFor, Reason } from '../../../shared/protocol/reason-codes.ts';
import type { AuthExchange, AuthOutcome, AuthRequest, Maybe } from '../../auth/hook.ts';
import { ConnState } from '../../net/conn-state.ts';
import type { Connection } from '../../net/connection.ts';
import { proceedConnect, refuse, type ConnectRequest } from './connack.ts';
import { sendFitting } from './fit.ts';

interface AuthState {
  method: string;
  areq: AuthRequest;
  exchange: AuthExchange | null;  // the conversation under way, null between re-authentications
  busy: boolean;                  // a step is waiting for the hook
  connect: ConnectRequest | null; // set until CONNACK
  problemInfo: boolean;           // the client's Request Problem Information
}
const states = new WeakMap<Connection, AuthState>();

const FAILED: AuthOutcome = Object.freeze({ reason: Reason.UNSPECIFIED_ERROR });

/**
 * Runs `fn` on a hook's answer: now when it is a value, later when it is a promise. With
 * `defer`, the connection defers further packets (and stops reading) meanwhile, and resumes
 * them when the answer leaves it waiting for the client again.
 */
export function settle(conn: Connection, v: Maybe<AuthOutcome>, defer: boolean, fn: (o: AuthOutcome) => void): void {
  if (typeof (v as Partial<PromiseLike<AuthOutcome>>).then !== 'function') { fn(v as AuthOutcome); return; }
  if (defer) {
    if (conn.state === ConnState.NEW) conn.state = ConnState.AUTHENTICATING;
    conn.deferPackets();
  }
  const done = (o: AuthOutcome): void => {
    if (conn.state === ConnState.CLOSED) return;
    try {
      fn(o);
    } catch (err) {
      conn.shard.log.error({ err, client: conn.clientId }, 'auth outcome failed');
      conn.close();
      return;
    }
    if (defer && (conn.state === ConnState.AUTHENTICATING || conn.state === ConnState.CONNECTED)) conn.resumePackets();
  };
  Promise.resolve(v).then(done, (err: unknown) => {
    conn.shard.log.error({ err, client: conn.clientId }, 'auth hook failed');
    done(FAILED);
  });
}

/** CONNECT named a method the hook supports: run the first step with CONNECT's Authentication Data. */
export function beginConnectAuth(conn: Connection, req: ConnectRequest, method: string, areq: AuthRequest, data: Buffer | undefined): void {
  const st: AuthState = { method, areq, exchange: conn.shard.auth.begin(method, areq, false), busy: false, connect: req, problemInfo: req.requestProblemInfo };
  states.set(conn, st);
  conn.state = ConnState.AUTHENTICATING;
  step(conn, st, data);
}

function step(conn: Connection, st: AuthState, data: Buffer | undefined): void {
  st.busy = true;
  let r: Maybe<AuthOutcome>;
  try {
    r = st.exchange!.step(data);
  } catch (err) {
    conn.shard.log.error({ err, client: conn.clientId }, 'auth hook failed');
    r = FAILED;
  }
  settle(conn, r, st.connect !== null, (o) => { st.busy = false; outcome(conn, st, o); });
}

function outcome(conn: Connection, st: AuthState, o: AuthOutcome): void {
  if (st.connect !== null) {
    if (o.reason === Reason.CONTINUE_AUTHENTICATION) { sendAuth(conn, st, Reason.CONTINUE_AUTHENTICATION, o); return; } // [MQTT-4.12.0-2]
    const req = st.connect;
    st.connect = null;
    st.exchange = null;
    if (o.reason === Reason.SUCCESS) {
      req.authData = o.data;
      proceedConnect(conn, req); // CONNACK carries the method and the final data
      return;
    }
    refuse(conn, isReasonValidFor(o.reason, PacketType.CONNACK) && o.reason >= 0x80 ? o.reason : Reason.NOT_AUTHORIZED, o);
    return;
  }
  // Re-authentication of a connected client.
  if (conn.state !== ConnState.CONNECTED) return;
  if (o.reason === Reason.CONTINUE_AUTHENTICATION) { sendAuth(conn, st, Reason.CONTINUE_AUTHENTICATION, o); return; }
  st.exchange = null;
  if (o.reason === Reason.SUCCESS) { sendAuth(conn, st, Reason.SUCCESS, o); return; }
  // A failed re-authentication: DISCONNECT with a reason and close [MQTT-4.12.1-2].
  const reason = isReasonValidFor(o.reason, PacketType.DISCONNECT) && o.reason >= 0x80 ? o.reason : Reason.NOT_AUTHORIZED;
  const properties: mqttPacket.IDisconnectPacket['properties'] = {};
  if (o.reasonString !== undefined) properties.reasonString = o.reasonString;
  if (o.serverReference !== undefined) properties.serverReference = o.serverReference;
  sendFitting(conn, { cmd: 'disconnect', reasonCode: reason, properties } as mqttPacket.IDisconnectPacket, ['reasonString', 'serverReference']);
  conn.close();
}

/** AUTH to the client: always with the method of CONNECT [MQTT-4.12.0-5]. */
function sendAuth(conn: Connection, st: AuthState, reasonCode: number, o: AuthOutcome): void {
  const properties: NonNullable<mqttPacket.IAuthPacket['properties']> = { authenticationMethod: st.method };
  if (o.data !== undefined) properties.authenticationData = o.data;
  // A client that asked for no problem information gets no Reason String on AUTH [MQTT-3.1.2-29].
  if (o.reasonString !== undefined && st.problemInfo) properties.reasonString = o.reasonString;
  sendFitting(conn, { cmd: 'auth', reasonCode, properties } as mqttPacket.IAuthPacket, ['reasonString']);
}

/**
 * AUTH from the client (v5 only). Before CONNACK: 0x18 continues the exchange. After CONNACK:
 * 0x19 starts a re-authentication, 0x18 continues it. Always with CONNECT's method; without an
 * Authentication Method in CONNECT, AUTH is a protocol error.
 */
export function handleAuth(conn: Connection, buf: Buffer, off: number, len: number): void {
  if (conn.version !== 5) throw new ProtocolError(Reason.MALFORMED_PACKET, 'AUTH before MQTT 5');
  const st = states.get(conn);
  if (st === undefined) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'AUTH without an authentication method in CONNECT');
  const p = conn.parse(buf, off, len) as mqttPacket.IAuthPacket;
  const method = p.properties?.authenticationMethod;
  if (method !== st.method) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'AUTH with another authentication method than CONNECT [MQTT-4.12.1-1]');
  if (st.busy) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'AUTH before the server answered the previous one');
  const data = p.properties?.authenticationData;
  const code = p.reasonCode ?? 0;
  if (conn.state === ConnState.AUTHENTICATING) {
    if (code !== Reason.CONTINUE_AUTHENTICATION) throw new ProtocolError(Reason.PROTOCOL_ERROR, `AUTH 0x${code.toString(16)} during the CONNECT exchange`);
    step(conn, st, data);
    return;
  }
  if (code === Reason.REAUTHENTICATE) {
    if (st.exchange !== null) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'AUTH 0x19 during a re-authentication');
    st.exchange = conn.shard.auth.begin(st.method, st.areq, true);
    step(conn, st, data);
    return;
  }
  if (code === Reason.CONTINUE_AUTHENTICATION && st.exchange !== null) { step(conn, st, data); return; }
  throw new ProtocolError(Reason.PROTOCOL_ERROR, `AUTH 0x${code.toString(16)} without an authentication exchange under way`);
}

/** A packet other than AUTH or DISCONNECT before CONNACK of an enhanced authentication [MQTT-3.1.2-30]. */
export function refuseDuringAuth(conn: Connection, reason: number): void {
  states.delete(conn);
  refuse(conn, reason);
}

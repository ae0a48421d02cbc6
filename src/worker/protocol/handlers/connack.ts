// How a CONNECT ends: refused (CONNACK with the reason, or the 3.1.1 return code), or accepted
// after authentication (claim the client id, then CONNACK once its session arrives). Shared by
// connect.ts and auth.ts (the enhanced-authentication exchange ends the same way).
import type mqttPacket from 'mqtt-packet';
import { closesWithoutConnackV3, connackReturnCodeV3, Reason, reasonName } from '../../../shared/protocol/reason-codes.ts';
import { PacketType } from '../../../shared/protocol/constants.ts';
import { ClientGuard } from '../../auth/access.ts';
import { transportName } from '../../auth/connect-log.ts';
import { Stat } from '../../../shared/stats.ts';
import type { AuthOutcome } from '../../auth/hook.ts';
import { ConnState } from '../../net/conn-state.ts';
import type { Connection } from '../../net/connection.ts';
import { decodeSession } from '../../durable/session-codec.ts';
import { Session, type Will } from '../../session/session.ts';
import { parseFilter } from '../../session/subscription.ts';
import { sendFitting } from './fit.ts';
import { encodeConnackV3 } from '../acks.ts';
import { countConnected } from '../../control/kinds.ts';
import { established } from '../../hooks/lifecycle.ts';

/** What CONNECT asked for, kept on the connection until its session arrives. */
export interface ConnectRequest {
  expiry: number;
  will: Will | null;
  assignedId: string | null;
  keepaliveChanged: number;  // -1 = not changed, else the Server Keep Alive we impose
  requestProblemInfo: boolean;
  requestResponseInfo: boolean;
  authMethod: string | undefined;  // v5 Authentication Method (enhanced authentication)
  authData: Buffer | undefined;    // the hook's final Authentication Data, sent in CONNACK
  username: string | undefined;    // for the access hook's guard and the connect log line
  expiryChanged: boolean;          // --persistent-client-expiration bounded it: v5 CONNACK says so
}
const requests = new WeakMap<Connection, ConnectRequest>();

/**
 * Answers a refused CONNECT and closes: v5 reason code (with the hook's Reason String / Server
 * Reference), or the 3.1.1 return code where one exists.
 */
export function refuse(conn: Connection, reason: number, extra?: AuthOutcome): void {
  const sh = conn.shard;
  if (sh.log.isLevelEnabled('info')) {
    sh.log.info({ client: conn.clientId, remote: conn.remote, protocolVersion: conn.version, reason: `0x${reason.toString(16).padStart(2, '0')}`, why: extra?.reasonString ?? reasonName(reason, PacketType.CONNACK) }, 'connect refused');
  }
  if (conn.version === 5) {
    let properties: mqttPacket.IConnackPacket['properties'];
    if (extra !== undefined && (extra.reasonString !== undefined || extra.serverReference !== undefined)) {
      properties = {};
      if (extra.reasonString !== undefined) properties.reasonString = extra.reasonString;
      if (extra.serverReference !== undefined) properties.serverReference = extra.serverReference;
    }
    sendFitting(conn, { cmd: 'connack', reasonCode: reason, sessionPresent: false, properties } as mqttPacket.IConnackPacket, ['reasonString', 'serverReference']);
  } else if (!closesWithoutConnackV3(reason) && reason !== Reason.TOPIC_NAME_INVALID) {
    // 3.1.1 has CONNACK codes only for refusals; a malformed CONNECT is just closed [MQTT-3.1.4-1].
    const rc = connackReturnCodeV3(reason);
    if (rc !== 0) conn.send(encodeConnackV3(false, rc));
  }
  conn.close();
}

/** Authentication passed: claim the client id (its session arrives in completeConnect). */
export function proceedConnect(conn: Connection, req: ConnectRequest): void {
  requests.set(conn, req);
  conn.state = ConnState.CONNECTING;
  // A claim at this shard (its home, with no cluster) is answered before claim() returns: then
  // the socket is never paused and resumed (two syscalls, a nextTick and the stream's 'pause'
  // event per CONNECT of a burst). Packets after the CONNECT in this read wait either way.
  conn.deferPackets(false);
  conn.shard.registry.claim(conn, claimed);
  if (conn.state === ConnState.CONNECTING) conn.pauseDeferred();
}

/** The claim's answer: a bug in completing it costs one connection, not the frame loop. */
function claimed(conn: Connection, state: Buffer | null, refused?: number): void {
  if (refused !== undefined) {
    // The cluster could not give this node the client id (docs/cluster.md, "Client ids").
    requests.delete(conn);
    refuse(conn, refused);
    return;
  }
  try {
    completeConnect(conn, state);
  } catch (err) {
    conn.shard.log.error({ err, client: conn.clientId }, 'completing CONNECT failed');
    conn.close();
  }
}

/** The session for a claimed CONNECT has arrived (or there is none): finish with CONNACK. */
export function completeConnect(conn: Connection, state: Buffer | null): void {
  const sh = conn.shard;
  const req = requests.get(conn)!;
  requests.delete(conn);
  let s: Session;
  let present = false;
  if (state !== null && !conn.cleanStart) {
    s = decodeSession(conn.clientId, state, parseFilter);
    present = true;
  } else {
    s = new Session(conn.clientId, conn.version, req.expiry);
    // A clean start discards what a previous session left in the store (queue, in-flight, QoS 2 ids).
    if (state !== null || (sh.durability.enabled && sh.store.getSession(conn.clientId) !== undefined)) {
      sh.durability.track(sh.store.deleteSession(conn.clientId), 'delete session');
    }
  }
  s.version = conn.version;
  s.expiryInterval = req.expiry;
  s.expiryBounded = req.expiryChanged;
  s.will = req.will;
  s.token = conn.token;
  s.conn = conn;
  s.mayTakeAgain();
  s.disconnectedAt = 0;
  conn.session = s;
  conn.username = req.username ?? '';
  s.username = req.username;
  s.userKnown = true;
  // Access control: the client's guard; a session it takes up had its subscriptions judged for
  // someone else, or by an older file, so all of them are checked at delivery (cached).
  if (sh.access !== null && conn.socket.internal !== true) {
    const g = s.guard = new ClientGuard(sh.access, conn.clientId, req.username, conn);
    for (const sub of s.subs.values()) sub.guard = g;
  }
  sh.lifecycle.adopt(s);
  conn.state = ConnState.CONNECTED;
  conn.problemInfo = req.requestProblemInfo;
  sh.stats.add(sh.id, Stat.CLIENTS_CONNECTED, 1);
  sh.stats.add(sh.id, Stat.CONNECTS_TOTAL, 1);
  countConnected(sh.stats, sh.id, conn.socket, conn.version, 1);
  if (sh.log.isLevelEnabled('info')) {
    sh.log.info({ client: conn.clientId, user: req.username, remote: conn.remote, protocolVersion: conn.version, transport: transportName(conn.socket), sessionPresent: present }, 'client connected');
  }

  if (conn.version === 5) {
    const properties: mqttPacket.IConnackPacket['properties'] = {
      receiveMaximum: sh.config.receiveMaximum,
      maximumPacketSize: sh.config.maxPacketSize,
      topicAliasMaximum: sh.config.topicAliasMaximum,
      retainAvailable: sh.config.retainAvailable,
      wildcardSubscriptionAvailable: sh.config.wildcardSubscriptions,
      subscriptionIdentifiersAvailable: sh.config.subscriptionIdentifiers,
      sharedSubscriptionAvailable: sh.config.sharedSubscriptions,
    };
    if (sh.config.maxQos < 2) properties.maximumQoS = sh.config.maxQos as 0 | 1; // [MQTT-3.2.2-9]
    if (req.assignedId !== null) properties.assignedClientIdentifier = req.assignedId;
    if (req.keepaliveChanged >= 0) properties.serverKeepAlive = req.keepaliveChanged;
    if (req.expiryChanged) properties.sessionExpiryInterval = req.expiry; // [MQTT-3.2.2.3.2]
    // Response Information only when asked for [MQTT-3.1.2-28], and only when configured (it may be left out).
    if (req.requestResponseInfo && sh.config.responseInformation !== '') {
      properties.responseInformation = sh.config.responseInformation.replaceAll('%c', conn.clientId);
    }
    if (req.authMethod !== undefined) {
      properties.authenticationMethod = req.authMethod;
      if (req.authData !== undefined) properties.authenticationData = req.authData;
    }
    conn.sendPacket({ cmd: 'connack', reasonCode: 0, sessionPresent: present, properties } as mqttPacket.IConnackPacket);
  } else {
    conn.send(encodeConnackV3(present, 0));
  }
  if (s.persistent) sh.lifecycle.persist(s);
  // In-flight messages are resent before the packets held behind the CONNECT run: one of those
  // may end the connection (a second CONNECT), and then the session has no connection left.
  sh.delivery.resume(s);
  if (sh.hooks.has.onSessionEstablished) established(conn, present);
  conn.resumePackets();
}

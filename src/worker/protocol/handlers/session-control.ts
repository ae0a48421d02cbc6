import type mqttPacket from 'mqtt-packet';
import { ProtocolError } from '../../../shared/errors.ts';
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import type { Connection } from '../../net/connection.ts';
import { boundedExpiry } from '../../session/session.ts';

const PINGRESP = Buffer.from([0xd0, 0x00]);

export function handlePingreq(conn: Connection): void { conn.send(PINGRESP); }

/** Client DISCONNECT: no will (unless v5 reason 0x04) [MQTT-3.14.4-3]; v5 may change the session expiry. */
export function handleDisconnect(conn: Connection, packet: mqttPacket.Packet): void {
  const p = packet as mqttPacket.IDisconnectPacket;
  const s = conn.session!;
  if (conn.version === 5) {
    const expiry = p.properties?.sessionExpiryInterval;
    if (expiry !== undefined) {
      // A session that was to end with the connection cannot be made persistent now [MQTT-3.14.2-2].
      if (s.expiryInterval === 0 && expiry !== 0) throw new ProtocolError(Reason.PROTOCOL_ERROR, 'session expiry set at DISCONNECT after 0 at CONNECT');
      // "never" asked here is bounded as at CONNECT, else it would escape --persistent-client-expiration
      s.expiryInterval = boundedExpiry(expiry, conn.shard.config.persistentClientExpiration);
      s.expiryBounded = s.expiryInterval !== expiry;
    }
    conn.willOnDisconnect = p.reasonCode === Reason.DISCONNECT_WITH_WILL;
  }
  conn.disconnectNormal = true;
  conn.close();
}

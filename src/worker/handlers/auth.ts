import { ProtocolError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { Connection } from '../connection.ts';

/** AUTH (v5 only). Without an authentication method in CONNECT, AUTH is a protocol error [MQTT-4.12.0-?]. */
export function handleAuth(conn: Connection, _buf: Buffer, _off: number, _len: number): void {
  if (conn.version !== 5) throw new ProtocolError(Reason.MALFORMED_PACKET, 'AUTH before MQTT 5');
  throw new ProtocolError(Reason.PROTOCOL_ERROR, 'AUTH without an authentication method');
}

// What the connect and disconnect log lines say about a connection's transport.
import { TLSSocket } from 'node:tls';
import { PacketType } from '../../shared/protocol/constants.ts';
import { reasonName } from '../../shared/protocol/reason-codes.ts';
import type { ClientSocket } from '../net/client-socket.ts';
import { WsSocket } from '../net/ws-socket.ts';

/** tcp, tls, ws or wss: read off the socket (only for log lines, never per packet). */
export function transportName(socket: ClientSocket): string {
  if (socket instanceof WsSocket) return (socket as unknown as { stream?: { encrypted?: boolean } }).stream?.encrypted === true ? 'wss' : 'ws';
  return socket instanceof TLSSocket ? 'tls' : 'tcp';
}

/** Why a connection past CONNACK ended, for the disconnect log line. */
export function disconnectReason(conn: { disconnectNormal: boolean; willOnDisconnect: boolean; closeReason: number }): string {
  if (conn.disconnectNormal) return conn.willOnDisconnect ? 'client DISCONNECT with will' : 'client DISCONNECT';
  if (conn.closeReason !== 0) return `server: ${reasonName(conn.closeReason, PacketType.DISCONNECT)}`;
  return 'connection lost (closed without DISCONNECT)';
}

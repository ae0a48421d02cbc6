// Connections past CONNACK by transport and protocol version (Stat.CONNECTED_BY_KIND slots, for
// shoal_connections_by_transport): counted at CONNACK and at close, once per connection, never
// per message. The transport is read from the socket's class, so connections need no field.
import { TLSSocket } from 'node:tls';
import { Stat, connectedKind, type StatsBlock } from '../../shared/stats.ts';
import type { ClientSocket } from '../net/client-socket.ts';
import { WsSocket } from '../net/ws-socket.ts';

const TCP = 0, TLS = 1, WS = 2, WSS = 3; // KIND_TRANSPORTS order

function transportOf(socket: ClientSocket): number {
  if (socket instanceof WsSocket) return socket.encrypted ? WSS : WS;
  return socket instanceof TLSSocket ? TLS : TCP;
}

/** Adds `delta` to the slot of this connection's transport and protocol level (3..5). */
export function countConnected(stats: StatsBlock, shard: number, socket: ClientSocket, version: number, delta: number): void {
  if (version < 3 || version > 5) return;
  stats.add(shard, Stat.CONNECTED_BY_KIND + connectedKind(transportOf(socket), version), delta);
}

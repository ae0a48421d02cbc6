// The byte stream under a Connection, whatever the transport (a type of its own, so the parts
// that handle sockets need not import connection.ts).
/**
 * What a Connection needs of its byte stream: a net.Socket (TCP), a tls.TLSSocket (TLS, the
 * same API), or a WsSocket (ws-socket.ts) for WebSocket. The transports are set up in
 * transports.ts; past the handshake a Connection never knows which one it has, except that
 * output slabs are reused only on a plain net.Socket (TLS and ws may still hold the bytes).
 */
export interface ClientSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly writableLength: number;
  readonly destroyed: boolean;
  /** A connection from inside the broker (a bridge's local side): no auth, ACL or address limits. */
  readonly internal?: boolean;
  on(event: 'data' | 'drain' | 'error' | 'close', listener: (...args: any[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
  end(): unknown;
  destroy(): unknown;
}

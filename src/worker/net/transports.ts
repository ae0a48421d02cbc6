import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type { WebSocketServer, WebSocket } from 'ws';
import { Stat } from '../../shared/stats.ts';
import type { ShardListener } from '../../shared/control.ts';
import { credentialsOf, type TlsMaterial, type Transport } from '../../shared/tls.ts';
import type { ShardContext } from '../context.ts';
import type { ClientSocket } from './client-socket.ts';
import type { AcceptedHandle } from './socket-reader.ts';

/** Where a socket goes once its transport is set up (the shard makes it a Connection). */
export interface SocketSink {
  /** A socket, or a plain TCP connection's handle as the shard's listener accepted it (acceptor.ts). */
  adoptSocket(socket: ClientSocket | AcceptedHandle): void;
  readonly shuttingDown: boolean;
}
import { WsSocket, type WsStream } from './ws-socket.ts';

/** Subprotocols we answer, in order of preference (MQTT 5.0 §6.0: "mqtt"; MQTT 3.1 clients offer "mqttv3.1"). */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/** A WebSocket connection between its arrival (or the end of its TLS handshake) and its upgrade. */
interface Upgrade {
  stream: WsStream;             // the raw socket (ws) or the TLS socket (wss)
  transport: Transport;
  path: string;                 // the listener's only upgrade path ('' = any)
  timer: NodeJS.Timeout;
  onEnd: (err?: Error) => void; // 'error' / 'close' before the upgrade
}

/**
 * Terminates TLS and WebSocket in the shard (docs/transports.md): main transfers the raw TCP
 * socket tagged with its listener's index, and here it goes into that listener's `tls.Server`
 * (TLS; client certificates; --connect-timeout as the handshake timeout) and, for WebSocket,
 * a per-shard `http.Server` that only handles upgrades, and `ws` with `noServer`. None of
 * these servers listens: sockets are emitted into them. A Connection is made once the
 * handshake is done, so it sees a byte stream and nothing else; plain TCP goes to it at once,
 * untouched. A handshake that fails, is refused or takes longer than --connect-timeout costs
 * that socket only (closed, counted as HANDSHAKES_FAILED).
 */
export class Transports {
  private readonly shard: ShardContext;
  private readonly sink: SocketSink;
  private readonly listeners: readonly ShardListener[];
  /** By listener index: the TLS server of a tls or wss listener. */
  private readonly tlsServers: (tls.Server | null)[];
  private readonly http: http.Server | null = null;
  private readonly wss: WebSocketServer | null = null;
  private readonly upgrades = new Map<Duplex, Upgrade>();

  constructor(shard: ShardContext, sink: SocketSink, listeners: readonly ShardListener[]) {
    this.shard = shard;
    this.sink = sink;
    const config = shard.config;
    this.listeners = listeners;
    this.tlsServers = listeners.map((l) => {
      if (l.tls === null) return null;
      return l.transport === 'wss'
        ? this.tlsServer(l.tls, 'wss', (s) => this.toHttp(s, 'wss', l.path))
        : this.tlsServer(l.tls, 'tls', (s) => this.sink.adoptSocket(s));
    });
    if (listeners.some((l) => l.transport === 'ws' || l.transport === 'wss')) {
      // Loaded only for a ws/wss listener: the ws package costs each shard ~4 MiB of heap.
      const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof import('ws');
      this.wss = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        // A message may hold several packets; the framer still checks each packet's size.
        maxPayload: config.maxPacketSize + 64 * 1024,
        handleProtocols: (offered: Set<string>) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
      });
      this.wss.on('wsClientError', (err: Error, socket: Duplex) => this.refuse(socket, 400, err.message));
      // node:http (which brings http2, zlib and undici) only for a ws/wss listener: ~3 MiB a shard.
      this.http = process.getBuiltinModule('node:http').createServer();
      this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
      this.http.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' });
        res.end('MQTT over WebSocket only: upgrade with subprotocol mqtt\n');
      });
      this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.refuse(socket, 400, err.code ?? err.message));
    }
  }

  /** A socket main transferred to this shard from listener number `listener`. */
  adopt(raw: Socket, listener: number): void {
    const l = this.listeners[listener]!;
    // Plain TCP (and anything while shutting down, which adoptSocket refuses) goes straight on.
    if (l.transport === 'tcp' || this.sink.shuttingDown) this.sink.adoptSocket(raw);
    else if (l.transport === 'ws') this.toHttp(raw, 'ws', l.path);
    else this.tlsServers[listener]!.emit('connection', raw);
  }

  /**
   * A tls.Server (not listening) for one transport: it runs the handshake, checks client
   * certificates, and reports every failure (bad bytes, refused certificate, hang-up,
   * timeout) once as 'tlsClientError', every success once as 'secureConnection'.
   */
  private tlsServer(m: TlsMaterial, transport: Transport, onSecure: (s: tls.TLSSocket) => void): tls.Server {
    const server = tls.createServer({
      ...credentialsOf(m),
      requestCert: m.clientAuth,
      rejectUnauthorized: m.clientAuth,
      handshakeTimeout: this.shard.config.connectTimeout,
    });
    server.on('secureConnection', onSecure);
    server.on('tlsClientError', (err: NodeJS.ErrnoException, s: tls.TLSSocket) => {
      s.destroy();
      this.failed(transport, s, `${err.code ?? err.message}${s.authorizationError ? ` (${String(s.authorizationError)})` : ''}`);
    });
    return server;
  }

  /**
   * SIGHUP's new certificates and keys (main read and checked them): new handshakes use them,
   * established TLS connections keep theirs (setSecureContext).
   */
  replaceTls(listeners: readonly ShardListener[]): void {
    for (let i = 0; i < this.tlsServers.length; i++) {
      const m = listeners[i]?.tls;
      if (m != null) this.tlsServers[i]?.setSecureContext(credentialsOf(m));
    }
  }

  /** Destroys every socket waiting for its WebSocket upgrade (shutdown). */
  shutdown(): void { for (const u of [...this.upgrades.values()]) this.fail(u, 'shutting down'); }

  private toHttp(stream: WsStream, transport: Transport, path: string): void {
    const u: Upgrade = {
      stream,
      transport,
      path,
      timer: setTimeout(() => this.fail(u, 'upgrade timeout'), this.shard.config.connectTimeout),
      onEnd: (err?: Error) => this.fail(u, err?.message ?? 'closed before the upgrade'),
    };
    u.timer.unref();
    this.upgrades.set(stream, u);
    stream.on('error', u.onEnd);
    stream.on('close', u.onEnd);
    this.http!.emit('connection', stream);
    stream.resume();
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const u = this.upgrades.get(socket);
    if (u === undefined) { socket.destroy(); return; }
    const { path } = u;
    if (path !== '' && (req.url ?? '').split('?', 1)[0] !== path) { this.refuse(socket, 404, `WebSocket path is ${path}`); return; }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!SUBPROTOCOLS.some((p) => offered.includes(p))) {
      this.refuse(socket, 400, `Sec-WebSocket-Protocol must offer ${SUBPROTOCOLS.join(' or ')}`);
      return;
    }
    this.wss!.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.upgraded(u);
      this.sink.adoptSocket(new WsSocket(ws, u.stream));
    });
  }

  /** Answers an HTTP error and closes; the socket's 'close' then counts the failed handshake. */
  private refuse(socket: Duplex, status: number, message: string): void {
    this.shard.log.debug({ transport: this.upgrades.get(socket)?.transport, status, message }, 'WebSocket upgrade refused');
    if (!socket.writable) { socket.destroy(); return; }
    const body = `${message}\n`;
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${process.getBuiltinModule('node:http').STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  private upgraded(u: Upgrade): void {
    this.upgrades.delete(u.stream);
    clearTimeout(u.timer);
    u.stream.off('error', u.onEnd);
    u.stream.off('close', u.onEnd);
  }

  private fail(u: Upgrade, why: string): void {
    if (this.upgrades.get(u.stream) !== u) return;
    this.upgraded(u);
    u.stream.on('error', ignore); // a late error of a socket we gave up on
    u.stream.destroy();
    this.failed(u.transport, u.stream, why);
  }

  /** A socket that never became a Connection: counted, and no longer live. */
  private failed(transport: Transport, s: WsStream, why: string): void {
    const { shard } = this;
    shard.stats.add(shard.id, Stat.HANDSHAKES_FAILED, 1);
    shard.stats.addLive(shard.id, -1);
    shard.log.debug({ transport, remote: `${s.remoteAddress}:${s.remotePort}`, why }, 'handshake failed');
  }
}

function ignore(): void { /* see fail() */ }

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { Stat } from '../shared/stats.ts';
import { secureContextOf, type TlsMaterial, type Transport } from '../shared/tls.ts';
import type { Shard } from './shard.ts';
import { WsSocket, type WsStream } from './ws-socket.ts';

/** Subprotocols we answer, in order of preference (MQTT 5.0 §6.0: "mqtt"; MQTT 3.1 clients offer "mqttv3.1"). */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/** A socket between its arrival and the end of its TLS handshake and/or WebSocket upgrade. */
interface Handshake {
  stream: WsStream;             // the raw socket, or the TLS socket wrapping it
  transport: Transport;
  timer: NodeJS.Timeout;
  onEnd: (err?: Error) => void; // 'error' / 'close' before the handshake completed
}

/**
 * Terminates TLS and WebSocket in the shard (docs/transports.md): main transfers the raw TCP
 * socket tagged with its listener's transport, and here it is wrapped (`tls.TLSSocket`, then
 * for WebSocket a per-shard `http.Server` that only handles upgrades, and `ws` with
 * `noServer`). A Connection is made once the handshake is done, so it sees a byte stream and
 * nothing else; plain TCP goes to it at once, untouched. A handshake that fails, is refused
 * or takes longer than --connect-timeout costs that socket only (closed, counted as
 * HANDSHAKES_FAILED).
 */
export class Transports {
  private readonly shard: Shard;
  private readonly tlsOptions: tls.TLSSocketOptions | null;
  private readonly http: http.Server | null = null;
  private readonly wss: WebSocketServer | null = null;
  private readonly pending = new Map<Duplex, Handshake>();

  constructor(shard: Shard, material: TlsMaterial | null) {
    this.shard = shard;
    const config = shard.config;
    this.tlsOptions = material === null ? null : {
      isServer: true,
      secureContext: secureContextOf(material),
      requestCert: material.clientAuth,
      rejectUnauthorized: material.clientAuth,
    };
    if (config.wsPort !== null || config.wssPort !== null) {
      this.wss = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        // A message may hold several packets; the framer still checks each packet's size.
        maxPayload: config.maxPacketSize + 64 * 1024,
        handleProtocols: (offered: Set<string>) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
      });
      this.wss.on('wsClientError', (err: Error, socket: Duplex) => this.refuse(socket, 400, err.message));
      this.http = http.createServer();
      this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
      this.http.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' });
        res.end('MQTT over WebSocket only: upgrade with subprotocol mqtt\n');
      });
      this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.refuse(socket, 400, err.code ?? err.message));
    }
  }

  /** A socket main transferred to this shard. */
  adopt(raw: Socket, transport: Transport): void {
    // Plain TCP (and anything while shutting down, which adoptSocket refuses) goes straight on.
    if (transport === 'tcp' || this.shard.shuttingDown) { this.shard.adoptSocket(raw); return; }
    const secure = transport === 'tls' || transport === 'wss';
    const stream: WsStream = secure ? new tls.TLSSocket(raw, this.tlsOptions!) : raw;
    const h: Handshake = {
      stream,
      transport,
      timer: setTimeout(() => this.fail(h, 'handshake timeout'), this.shard.config.connectTimeout),
      onEnd: (err?: Error) => this.fail(h, err?.message ?? 'closed during the handshake'),
    };
    h.timer.unref();
    this.pending.set(stream, h);
    stream.on('error', h.onEnd);
    stream.on('close', h.onEnd);
    if (!secure) { this.toHttp(h); return; }
    stream.once('secure', () => {
      // rejectUnauthorized already refuses a client without a valid certificate; checked again here.
      if (this.tlsOptions!.requestCert && !(stream as tls.TLSSocket).authorized) { this.fail(h, 'client certificate not authorized'); return; }
      if (transport === 'tls') { this.done(h); this.shard.adoptSocket(stream as tls.TLSSocket); }
      else this.toHttp(h);
    });
  }

  /** Destroys every socket still in its handshake (shutdown). */
  shutdown(): void { for (const h of [...this.pending.values()]) this.fail(h, 'shutting down'); }

  private toHttp(h: Handshake): void {
    this.http!.emit('connection', h.stream);
    h.stream.resume();
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const h = this.pending.get(socket);
    if (h === undefined) { socket.destroy(); return; }
    const path = this.shard.config.wsPath;
    if (path !== '' && (req.url ?? '').split('?', 1)[0] !== path) { this.refuse(socket, 404, `WebSocket path is ${path}`); return; }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!SUBPROTOCOLS.some((p) => offered.includes(p))) {
      this.refuse(socket, 400, `Sec-WebSocket-Protocol must offer ${SUBPROTOCOLS.join(' or ')}`);
      return;
    }
    this.wss!.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.done(h);
      this.shard.adoptSocket(new WsSocket(ws, h.stream));
    });
  }

  /** Answers an HTTP error and closes; the socket's 'close' then counts the failed handshake. */
  private refuse(socket: Duplex, status: number, message: string): void {
    const h = this.pending.get(socket);
    this.shard.log.debug({ transport: h?.transport, status, message }, 'WebSocket upgrade refused');
    if (!socket.writable) { socket.destroy(); return; }
    const body = `${message}\n`;
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  private done(h: Handshake): void {
    this.pending.delete(h.stream);
    clearTimeout(h.timer);
    h.stream.off('error', h.onEnd);
    h.stream.off('close', h.onEnd);
  }

  private fail(h: Handshake, why: string): void {
    if (this.pending.get(h.stream) !== h) return;
    this.done(h);
    const { shard } = this;
    shard.log.debug({ transport: h.transport, remote: `${h.stream.remoteAddress}:${h.stream.remotePort}`, why }, 'handshake failed');
    h.stream.on('error', ignore); // a late error of a socket we gave up on
    h.stream.destroy();
    shard.stats.add(shard.id, Stat.HANDSHAKES_FAILED, 1);
    shard.stats.addLive(shard.id, -1);
  }
}

function ignore(): void { /* see fail() */ }

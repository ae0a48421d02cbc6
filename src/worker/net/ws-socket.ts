import { EventEmitter } from 'node:events';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ClientSocket } from './client-socket.ts';

/** The stream under a WebSocket: a net.Socket (ws) or a tls.TLSSocket (wss). */
export type WsStream = Duplex & { remoteAddress?: string | undefined; remotePort?: number | undefined };

/**
 * A WebSocket seen as the byte stream a Connection reads and writes (MQTT over WebSocket,
 * MQTT 5.0 §6): every binary message is a chunk of the MQTT byte stream (a packet may span
 * messages, a message may hold several packets; the Connection's framer does not care), and
 * every write is one binary message. A text message closes the connection [MQTT-6.0.0-1].
 * Emits what Connection listens to: 'data', 'drain', 'error', 'close'.
 */
export class WsSocket extends EventEmitter implements ClientSocket {
  private readonly ws: WebSocket;
  private readonly stream: WsStream;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** wss (WebSocket over TLS), for the per-transport connection count. */
  readonly encrypted: boolean;

  constructor(ws: WebSocket, stream: WsStream) {
    super();
    this.ws = ws;
    this.stream = stream;
    this.encrypted = stream instanceof TLSSocket;
    this.remoteAddress = stream.remoteAddress;
    this.remotePort = stream.remotePort;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.emit('data', data);
      else ws.close(1003, 'MQTT needs binary frames');
    });
    ws.on('error', (err: Error) => this.emit('error', err));
    ws.on('close', () => this.emit('close'));
    // ws writes straight to the stream (no compression): its drain is ours.
    stream.on('drain', () => this.emit('drain'));
  }

  /** Bytes accepted and not yet taken by the kernel (the stream's buffer and ws's own queue). */
  get writableLength(): number { return this.ws.bufferedAmount; }
  get destroyed(): boolean { return this.ws.readyState === this.ws.CLOSED; }

  write(chunk: Buffer): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return true;
    this.ws.send(chunk, { binary: true, compress: false, fin: true });
    return !this.stream.writableNeedDrain;
  }

  cork(): void { this.stream.cork(); }
  uncork(): void { this.stream.uncork(); }
  pause(): this { this.ws.pause(); return this; }
  resume(): this { this.ws.resume(); return this; }
  end(): this { this.ws.close(1000); return this; }
  destroy(): this { this.ws.terminate(); return this; }
}

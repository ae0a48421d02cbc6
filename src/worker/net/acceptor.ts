// Accepting in the shard: every shard listens on the broker's port with SO_REUSEPORT and the
// kernel spreads new connections over them. A connection then costs no hop through the main
// thread (no handle transfer, no wake-up of this thread by main): with main accepting, the
// transfer was a fifth of the broker's CPU per connect (docs/performance.md, "many").
import net from 'node:net';
import { startListening } from '../../shared/listen.ts';
import type { ShardContext } from '../context.ts';
import type { SocketSink } from './transports.ts';

export class Acceptor {
  private server: net.Server | null = null;
  private readonly shard: ShardContext;
  private readonly sink: SocketSink;
  private readonly onSocket = (socket: net.Socket): void => {
    const sh = this.shard;
    sh.stats.addLive(sh.id, 1);
    this.sink.adoptSocket(socket);
  };

  constructor(shard: ShardContext, sink: SocketSink) { this.shard = shard; this.sink = sink; }

  /** Resolves when listening; rejects with the socket error (EADDRINUSE, EACCES, ...). */
  async listen(host: string, port: number): Promise<void> {
    // Paused like a transferred socket: the shard rebuilds it around its handle for reading (socket-reader.ts).
    const server = net.createServer({ noDelay: true, pauseOnConnect: true }, this.onSocket);
    this.server = server;
    try {
      await startListening(server, { host, port, reusePort: true });
    } catch (err) {
      this.server = null;
      throw err;
    }
  }

  /** Stops accepting (shutdown): the kernel sends new connections to the other shards' listeners. */
  close(): void {
    this.server?.close();
    this.server = null;
  }
}

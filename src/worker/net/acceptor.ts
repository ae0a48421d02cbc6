// Accepting in the shard: every shard listens on the broker's port with SO_REUSEPORT and the
// kernel spreads new connections over them. A connection then costs no hop through the main
// thread (no handle transfer, no wake-up of this thread by main): with main accepting, the
// transfer was a fifth of the broker's CPU per connect (docs/performance.md, "many").
import net from 'node:net';
import { startListening } from '../../shared/listen.ts';
import type { ShardContext } from '../context.ts';
import type { SocketSink } from './transports.ts';
import type { AcceptedHandle } from './socket-reader.ts';

/** The listener's libuv handle: Node calls its onconnection once per accepted connection. */
interface ServerHandle { onconnection: (err: number, client?: AcceptedHandle) => void }

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
    // libuv accepts every pending connection in one poll phase (the backlog is 65,535), and
    // Node made a net.Socket for each there, which the shard then rebuilt for reading
    // (socket-reader.ts): in a burst, hundreds of sockets and the scavenges they caused in one
    // stretch (a profile: 14 ms of GC in the worst delay of other clients' messages). Taking the
    // handle instead queues it, and its one socket is made within the shard's intake allowance
    // (connect-budget.ts). Where Node has no such handle, its 'connection' event does as before.
    const handle = (server as unknown as { _handle?: ServerHandle | null })._handle;
    if (handle !== null && handle !== undefined && typeof handle.onconnection === 'function') handle.onconnection = this.onHandle;
  }

  private readonly onHandle = (err: number, client?: AcceptedHandle): void => {
    if (err !== 0 || client === undefined) return; // EMFILE and the like: transient, as for the server's own
    client.setNoDelay(true); // what noDelay: true did in Node's onconnection
    const sh = this.shard;
    sh.stats.addLive(sh.id, 1);
    this.sink.adoptSocket(client);
  };

  /** Stops accepting (shutdown): the kernel sends new connections to the other shards' listeners. */
  close(): void {
    this.server?.close();
    this.server = null;
  }
}

import net from 'node:net';
import { ErrorCode, ShoalError } from '../shared/errors.ts';
import type { Transport } from '../shared/tls.ts';
import type { ShardSupervisor } from './shards.ts';

/**
 * A listener for one transport. `pauseOnConnect` keeps every byte unread in the kernel so the
 * socket can be moved to a shard, which does all reading, and for TLS and WebSocket the
 * handshake too (docs/transports.md): main never touches the data path.
 */
export function listen(transport: Transport, host: string, port: number, shards: ShardSupervisor): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => shards.transfer(socket, transport));
  server.on('error', () => { /* after listen: per-accept errors (EMFILE) are transient */ });
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(new ShoalError(ErrorCode.LISTEN_FAILED, `cannot listen on ${host}:${port} (${transport}): ${err.code ?? err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host, port, backlog: 65535 }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

// Starting a TCP listener, for main's listeners and the shards' SO_REUSEPORT acceptors alike.
import type net from 'node:net';

/**
 * Listens with `options` (a large backlog by default); resolves when listening, rejects with the
 * socket error (EADDRINUSE, EACCES, ...). Errors after that are per accept (EMFILE): transient,
 * never fatal for the thread, so they are swallowed.
 */
export function startListening(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ backlog: 65535, ...options }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve();
    });
  });
}

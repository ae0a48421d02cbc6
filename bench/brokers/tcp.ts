// Loopback port helpers for brokers that cannot bind port 0 themselves (Mosquitto).
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** a port that was free a moment ago; the caller retries if someone takes it first */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

function connectOnce(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** resolves once something accepts on host:port; false when the deadline or the abort comes first */
export async function waitForListen(port: number, deadline: number, aborted: () => boolean, host = '127.0.0.1'): Promise<boolean> {
  while (Date.now() < deadline && !aborted()) {
    if (await connectOnce(port, host)) return true;
    await sleep(50);
  }
  return false;
}

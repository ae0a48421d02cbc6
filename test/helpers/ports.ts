// Loopback ports for test servers: a free one to start on, and waiting until something listens
// there (a TCP connect, so the wait needs no client library that might keep retrying after it).
import net from 'node:net';

/** A port that was free a moment ago (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** True when a TCP connect to 127.0.0.1:`port` succeeds within 500 ms. */
export function probe(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => { s.destroy(); res(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/**
 * Resolves once 127.0.0.1:`port` accepts; rejects with `what` after `ms`, or as soon as
 * `gone()` says the server that should listen there has exited.
 */
export async function waitListening(port: number, ms: number, what: string, gone: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (gone()) throw new Error(`${what} exited before listening on ${port}`);
    if (await probe(port)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

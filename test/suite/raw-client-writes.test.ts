// The raw test client's backpressure-aware write: writers blocked on a full socket share one
// 'drain' listener (one each used to trip MaxListenersExceededWarning in the flood tests), and
// every one of them is released when the socket drains or closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { RawClient } from '../helpers/raw.ts';

/** A server whose one socket does not read until `read()` is called. */
async function stalledServer(): Promise<{ port: number; read: () => void; close: () => void }> {
  let peer: net.Socket | undefined;
  const server = net.createServer((s) => { peer = s; s.pause(); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    read: () => { peer?.on('data', () => {}); peer?.resume(); },
    close: () => { peer?.destroy(); server.close(); },
  };
}

for (const release of ['drain', 'close'] as const) {
  test(`raw client writes: blocked writers share one drain listener and all resolve on ${release}`, async () => {
    const srv = await stalledServer();
    const c = await RawClient.open(srv.port);
    const before = c.socket.listenerCount('drain');
    const chunk = Buffer.alloc(1 << 20, 0x30);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) writes.push(c.write(chunk));
    assert.ok(c.socket.writableNeedDrain, 'the socket is full: the writes are blocked');
    assert.equal(c.socket.listenerCount('drain'), before, 'no listener per blocked write');
    if (release === 'drain') srv.read(); else c.destroy();
    await Promise.race([
      Promise.all(writes),
      new Promise((_, rej) => setTimeout(() => rej(new Error('blocked writes never resolved')), 20_000)),
    ]);
    c.destroy();
    srv.close();
  });
}

// Micro-bench of one turn's write to a TCP socket, the cost a round trip pays once per message:
// through the Writable stream (`socket.write`, what Connection did before) against straight
// to the libuv handle (net/handle-write.ts, what it does now). Loopback pair in one thread;
// batches of small writes, each followed by a turn in which the peer reads them, so every
// write finds the socket idle as in a ping-pong. User and system CPU per write come from
// process.cpuUsage (the syscall is in both; the difference is the JS and Node work around it).
//
//   node bench/micro/write.ts [--ms N]      (or import { run } and call it)
import net from 'node:net';
import { once } from 'node:events';
import { handleWrites, writableHandle, writeToHandle, type AsyncWriteOwner } from '../../src/worker/net/handle-write.ts';

export interface WriteBenchRow { name: string; writes: number; userNsPerWrite: number; systemNsPerWrite: number; asyncWrites: number }

const BATCH = 200;
const PACKET = Buffer.from([0x30, 0x12, 0x00, 0x0b, ...Buffer.from('loadtest/17'), ...Buffer.from('payload')]);

async function pair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection');
  const a = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1' });
  await once(a, 'connect');
  const [b] = (await accepted) as [net.Socket];
  b.on('data', () => {});
  return { a, b, close: () => { a.destroy(); b.destroy(); srv.close(); } };
}

async function measure(name: string, ms: number, write: (buf: Uint8Array) => boolean): Promise<WriteBenchRow> {
  const slab = Buffer.allocUnsafeSlow(64 * 1024);
  PACKET.copy(slab, 0);
  const view = slab.subarray(0, PACKET.length);
  let writes = 0;
  let asyncWrites = 0;
  let user = 0;
  let system = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < BATCH; i++) if (!write(view)) asyncWrites++;
    const c1 = process.cpuUsage(c0);
    user += c1.user;
    system += c1.system;
    writes += BATCH;
    await new Promise((r) => setImmediate(r)); // the peer reads; the next batch finds the socket idle
  }
  return { name, writes, userNsPerWrite: (user * 1000) / writes, systemNsPerWrite: (system * 1000) / writes, asyncWrites };
}

export async function run(opts: { ms?: number; print?: boolean } = {}): Promise<WriteBenchRow[]> {
  const ms = opts.ms ?? 1500;
  const rows: WriteBenchRow[] = [];
  const { a, close } = await pair();
  try {
    rows.push(await measure('socket.write (Writable stream)', ms, (buf) => { a.write(buf); return a.writableLength === 0; }));
    if (handleWrites) {
      const owner: AsyncWriteOwner = { asyncWriteDone() {} };
      const handle = writableHandle(a)!;
      rows.push(await measure('writeToHandle (libuv handle)', ms, (buf) => writeToHandle(handle, buf, null, owner) === 0));
    }
  } finally { close(); }
  if (opts.print !== false) {
    console.log('| write | writes | user ns/write | system ns/write | went async |');
    console.log('|---|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.name} | ${r.writes} | ${r.userNsPerWrite.toFixed(0)} | ${r.systemNsPerWrite.toFixed(0)} | ${r.asyncWrites} |`);
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--ms');
  await run({ ms: i > 0 ? Number(process.argv[i + 1]) : undefined });
}

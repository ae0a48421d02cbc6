// A client that publishes 1 GiB in large packets past --max-packet-size, over and over on new
// connections: each is refused at the fixed header (v5 DISCONNECT 0x95, 3.1.1 a close) and
// the broker reads no more of it, so what it takes in stays within the sockets' buffers,
// its memory does not follow the flood, and a probe client keeps its deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect } from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';
import { mib, probeMs, rssBytes } from './helpers.ts';

const MAX_PACKET = 1 << 20;
const TOTAL = 1 << 30;
const PER_CONNECTION = 64 << 20;
const PARALLEL = 4;
const CHUNK = Buffer.alloc(1 << 20, 0x42);
/** A write the kernel has not taken after this long: the broker stopped reading. */
const STALL_MS = 300;

const h = useBroker({ shards: 2, extraArgs: ['--max-packet-size', String(MAX_PACKET)] });

/** Offers `budget` bytes of one oversized PUBLISH; returns what the kernel took before the broker stopped reading or closed. */
async function offer(port: number, version: 4 | 5, budget: number): Promise<number> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
  let failed = false;
  s.on('error', () => { failed = true; });
  s.on('close', () => { failed = true; });
  s.resume();
  s.write(buildConnect({ version, clientId: uid('big') }));
  // 4 MiB announced, four times the limit; then the body, in 1 MiB writes.
  s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x02]));
  let taken = 0;
  while (!failed && taken < budget) {
    const ok = await new Promise<boolean>((res) => {
      const t = setTimeout(() => res(false), STALL_MS);
      s.write(CHUNK, (err) => { clearTimeout(t); res(err == null); });
    });
    if (!ok) break;
    taken += CHUNK.length;
  }
  s.destroy();
  return taken;
}

test('1 GiB in packets past --max-packet-size: refused at the header, not read on, memory and others unaffected', async (t) => {
  const rss0 = rssBytes(h.broker.pid);
  let offered = 0;
  let taken = 0;
  let connections = 0;
  let peak = rss0;
  const probes: number[] = [];
  let flooding = true;
  const prober = (async () => { while (flooding) probes.push(await probeMs(h.url, 2000)); })();
  await Promise.all(Array.from({ length: PARALLEL }, async (_, w) => {
    while (offered < TOTAL) {
      offered += PER_CONNECTION;
      connections++;
      taken += await offer(h.port, w % 2 === 0 ? 5 : 4, PER_CONNECTION);
      peak = Math.max(peak, rssBytes(h.broker.pid));
    }
  }));
  flooding = false;
  await prober;
  t.diagnostic(`${connections} connections offered ${mib(offered)} MiB, the kernel took ${mib(taken)} MiB (${mib(taken / connections)} each); broker RSS peak +${mib(peak - rss0)} MiB; ${probes.length} probes, slowest ${Math.max(...probes).toFixed(0)} ms`);
  // Reading on would take every offered byte; stopping leaves the sockets' buffers (a few MiB each).
  assert.ok(taken / connections < 16 << 20, `${mib(taken / connections)} MiB taken per connection`);
  assert.ok(peak - rss0 < 128 << 20, `RSS rose ${mib(peak - rss0)} MiB`);
  assert.ok(probes.length >= 1 && Math.max(...probes) < 2000);
});

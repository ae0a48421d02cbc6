// Regression (issue #12, "reading on after deciding to close"): a PUBLISH that announces a
// remaining length of 268,435,455 (far past --max-packet-size) gets DISCONNECT 0x95 (v5) or
// a close (3.1.1) at once, and from then on the broker must not read another byte from that
// connection [MQTT-4.13.1-1]. The client here writes as fast as the socket takes it after
// the announcing header and counts what the kernel accepted before the connection failed:
// a broker that stopped reading leaves only the sockets' buffers to fill (a few MiB); one
// that reads on and discards swallows hundreds of MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { buildConnect } from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';

/** Stop writing after this much: far more than any socket buffers hold. */
const BUDGET = 256 << 20;
/** What the kernel may hold for a connection nobody reads: our send buffer plus its receive buffer. */
const BUFFERS_BOUND = 32 << 20;
const CHUNK = Buffer.alloc(64 << 10, 0x41);

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

interface Outcome {
  /** ms from the header to the DISCONNECT (v5) or the close (3.1.1). */
  answeredMs: number;
  disconnectReason: number | null;
  /** Body bytes the kernel took after the header before the connection failed (or the budget ran out). */
  accepted: number;
  /** The broker closed (FIN or reset). */
  closed: boolean;
}

async function announceHugePublish(port: number, version: 4 | 5): Promise<Outcome> {
  // allowHalfOpen: the broker's FIN must not end our side too; only its refusal to read
  // (a reset, or full buffers) may stop the writes, as with a hostile client.
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
  await new Promise<void>((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  let inbox = Buffer.alloc(0);
  let closed = false;
  let failed = false;
  socket.on('data', (d: Buffer) => { inbox = Buffer.concat([inbox, d]); });
  socket.on('error', () => { failed = true; });
  socket.on('end', () => { closed = true; });
  socket.on('close', () => { closed = true; failed = true; });
  socket.write(buildConnect({ version, clientId: uid('huge') }));
  for (let i = 0; i < 200 && inbox.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(inbox[0], 0x20, 'CONNACK first');
  inbox = Buffer.alloc(0);
  const t0 = performance.now();
  let answeredMs = -1;
  const watch = setInterval(() => {
    if (answeredMs < 0 && ((version === 5 && inbox.length >= 3 && inbox[0] === 0xe0) || closed)) answeredMs = performance.now() - t0;
  }, 1);
  socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
  let accepted = 0;
  while (!failed && accepted < BUDGET) {
    const ok = await new Promise<boolean>((res) => {
      socket.write(CHUNK, (err) => res(err == null));
    });
    if (!ok) break;
    accepted += CHUNK.length;
  }
  // A broker that reads on closes by itself later; give it a moment, then stop waiting.
  for (let i = 0; i < 100 && answeredMs < 0; i++) await new Promise((r) => setTimeout(r, 10));
  clearInterval(watch);
  const disconnectReason = version === 5 && inbox[0] === 0xe0 && inbox.length >= 3 ? inbox[2]! : null;
  socket.destroy();
  return { answeredMs, disconnectReason, accepted, closed };
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  test(`reading on after deciding to close: ${version === 5 ? 'DISCONNECT 0x95' : 'a close'} at once, then not another byte read`, async (t) => {
    const rss0 = rssBytes(h.broker.pid);
    const o = await announceHugePublish(h.port, version);
    const rss1 = rssBytes(h.broker.pid);
    t.diagnostic(`answered after ${o.answeredMs.toFixed(1)} ms, ${(o.accepted / 2 ** 20).toFixed(1)} MiB accepted after the header, broker RSS ${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB more`);
    assert.ok(o.answeredMs >= 0 && o.answeredMs < 250, `answered after ${o.answeredMs} ms`);
    if (version === 5) assert.equal(o.disconnectReason, 0x95);
    assert.ok(o.accepted < BUFFERS_BOUND, `the broker took ${(o.accepted / 2 ** 20).toFixed(1)} MiB after deciding to close`);
  });
}, { shards: [1, 4] });

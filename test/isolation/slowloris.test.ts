// Slowloris: sockets that never send CONNECT, and sockets that send it one byte at a time, are
// closed once --connect-timeout has passed, and real clients connect and get their messages
// meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect } from '../helpers/raw.ts';
import { sleep, uid } from '../helpers/clients.ts';
import { probeMs } from './helpers.ts';

const CONNECT_TIMEOUT = 1000;
const SILENT = 300;
const DRIPPING = 100;

const h = useBroker({ shards: 2, extraArgs: ['--connect-timeout', String(CONNECT_TIMEOUT)] });

interface Held { socket: net.Socket; closedAt: number }

function open(port: number): Promise<Held> {
  return new Promise((res, rej) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const held: Held = { socket, closedAt: 0 };
    socket.on('error', () => { /* the broker closes it */ });
    socket.on('close', () => { held.closedAt = performance.now(); });
    socket.once('connect', () => res(held));
    socket.once('error', rej);
  });
}

test('slowloris: silent and one-byte-at-a-time CONNECTs are closed after --connect-timeout; real clients are served meanwhile', async (t) => {
  const silent = await Promise.all(Array.from({ length: SILENT }, () => open(h.port)));
  const dripping = await Promise.all(Array.from({ length: DRIPPING }, () => open(h.port)));
  const t0 = performance.now();
  const connect = buildConnect({ version: 4, clientId: uid('drip') });
  let stop = false;
  // One byte every 100 ms: the CONNECT would take seconds; never whole before the timeout.
  const drip = (async () => {
    for (let i = 0; i < connect.length - 1 && !stop; i++) {
      for (const d of dripping) if (d.closedAt === 0) d.socket.write(connect.subarray(i, i + 1));
      await sleep(100);
    }
  })();
  const probes: number[] = [];
  while (performance.now() - t0 < CONNECT_TIMEOUT + 1500) probes.push(await probeMs(h.url, 2000));
  stop = true;
  await drip;
  const all = [...silent, ...dripping];
  const open_ = all.filter((s) => s.closedAt === 0).length;
  const late = all.filter((s) => s.closedAt !== 0).map((s) => s.closedAt - t0);
  t.diagnostic(`${all.length} sockets, ${open_} still open after ${(performance.now() - t0).toFixed(0)} ms, closed at ${Math.min(...late).toFixed(0)}–${Math.max(...late).toFixed(0)} ms; ${probes.length} probe round trips, slowest ${Math.max(...probes).toFixed(0)} ms`);
  for (const s of all) s.socket.destroy();
  assert.equal(open_, 0, 'every slowloris socket closed');
  // The sweep runs every 500 ms: closed no earlier than the timeout, and within one sweep after.
  assert.ok(Math.min(...late) >= CONNECT_TIMEOUT - 100, `closed before the timeout (${Math.min(...late)} ms)`);
  assert.ok(probes.length >= 2 && Math.max(...probes) < 2000);
});

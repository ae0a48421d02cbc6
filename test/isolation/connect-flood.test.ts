// A CONNECT flood: thousands of CONNECT-and-reset connections as fast as the client can make
// them, while a probe client's QoS 1 round trips keep within their deadline and the broker
// keeps nothing of them afterwards. (Beyond --connect-rate, once the security work adds it.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect } from '../helpers/raw.ts';
import { uid } from '../helpers/clients.ts';
import { probeMs } from './helpers.ts';

const FLOOD = 4000;
const PARALLEL = 64;

const h = useBroker({ shards: 2 });

function connectAndReset(port: number, bytes: Buffer): Promise<void> {
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => res());
    s.once('connect', () => {
      s.write(bytes);
      // Half of them wait for nothing; the other half for the CONNACK's first byte.
      s.once('data', () => { s.resetAndDestroy(); res(); });
      if (Math.random() < 0.5) { s.resetAndDestroy(); res(); }
    });
    s.on('close', () => res());
  });
}

test('a CONNECT flood: 4,000 CONNECT + reset while a probe client keeps its deadline', async (t) => {
  let next = 0;
  const t0 = performance.now();
  const workers = Array.from({ length: PARALLEL }, async () => {
    while (next < FLOOD) {
      next++;
      await connectAndReset(h.port, buildConnect({ version: next % 2 === 0 ? 5 : 4, clientId: uid('flood') }));
    }
  });
  const probes: number[] = [];
  let done = false;
  const flood = Promise.all(workers).then(() => { done = true; });
  while (!done) probes.push(await probeMs(h.url, 2000));
  await flood;
  const floodMs = performance.now() - t0;
  t.diagnostic(`${FLOOD} connects in ${floodMs.toFixed(0)} ms (${(FLOOD / floodMs * 1000).toFixed(0)}/s); ${probes.length} probe round trips, slowest ${Math.max(...probes).toFixed(0)} ms`);
  assert.ok(probes.length >= 1);
  assert.ok(Math.max(...probes) < 2000);
  assert.ok(h.broker.alive());
});

// Regression (issue #12, found while measuring the stalled pair with --max-inflight 1000): a
// subscriber whose window lets one pump of its queue put --socket-high-water (1 MiB) or more
// into the turn's output was marked congested by the pump (delivery.ts) before those bytes
// were written. The flush then handed them all to the kernel, so no write was left in flight
// and no 'drain' came: the connection stayed congested, the queue was never pumped again and
// the subscriber got nothing more (in the isolation bench: 2,000 of 200,000 delivered, 17,993
// queued with nothing in flight, for ever). Any v5 client (Receive Maximum 65,535 unless it
// says less) reconnecting to a persistent session with more than 1 MiB queued was stuck so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import mqtt from 'mqtt';
import { connect, end, endAll, eventually, subscribe, uid } from '../helpers/clients.ts';

const h = useBroker({ extraArgs: ['--max-inflight', '2000'] });
const PAYLOAD = Buffer.alloc(1024, 0x61);

/** Sends `n` QoS 1 publishes as fast as MQTT.js takes them; resolves when all are acknowledged. */
async function burst(url: string, topic: string, n: number): Promise<void> {
  const pub = await connect(url, { version: 5 });
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((res, rej) => {
      pub.publish(topic, Buffer.concat([Buffer.from(`${i} `), PAYLOAD]), { qos: 1 }, (err) => (err ? rej(err) : res()));
    })));
  } finally {
    await end(pub);
  }
}

/** A persistent session of `version` gets `n` QoS 1 messages queued offline, then reconnects: all must arrive. */
async function reconnectTo(version: 4 | 5, n: number): Promise<void> {
  const topic = uid('pump');
  const clientId = uid('sub');
  const opts = { version, clientId, clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) };
  const first = await connect(h.url, opts);
  await subscribe(first, topic, { qos: 1 });
  await end(first);
  await burst(h.url, topic, n);
  // Counted from the first byte: the queue follows the CONNACK in the same read.
  const { version: protocolVersion, ...rest } = opts;
  const again = mqtt.connect(h.url, { ...rest, protocolVersion, reconnectPeriod: 0 });
  const seen = new Set<string>();
  again.on('message', (t, payload) => { if (t === topic) seen.add(payload.subarray(0, 8).toString().split(' ')[0]!); });
  again.on('error', () => { /* judged by the count below */ });
  try {
    await eventually(() => seen.size === n, 15_000, `all ${n} queued messages`).catch(() => {});
    assert.equal(seen.size, n, 'the queued messages delivered after the reconnect');
  } finally {
    await endAll([again]);
  }
}

// v5: the client's Receive Maximum (65,535 when it sets none) lets the pump take all 3 MiB.
test('queue past high water in one pump: a v5 session reconnecting to 3 MiB of queued QoS 1 gets all of it', () => reconnectTo(5, 3000));

// 3.1.1: the broker's --max-inflight (2,000 here) is the window, 2 MiB in one pump.
test('queue past high water in one pump: a 3.1.1 session with a 2,000 window reconnecting to 3 MiB gets all of it', () => reconnectTo(4, 3000));

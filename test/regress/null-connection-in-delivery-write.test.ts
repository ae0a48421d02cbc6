// Regression (issue #12, "a null connection in Delivery.write"): with a retained QoS 1
// message on `t` and another client subscribed to `t`, one write of a v5 CONNECT, a
// SUBSCRIBE to `t` while that CONNECT is still held, and a second CONNECT made a shard log
// `TypeError: Cannot read properties of null (reading 'held')` at Delivery.write ←
// Delivery.resume ← completeConnect (3 tries in 20 on 4 shards). The fuzzer finds it too.
// No try may produce an error-level log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { isErrorLine } from '../../fuzz/checker.ts';
import { fromHex } from '../helpers/raw.ts';
import { connect, endAll, publish, sleep, subscribe } from '../helpers/clients.ts';

// v5 CONNECT "victim-19", SUBSCRIBE t QoS 1 (packet id 1), the same CONNECT again: the exact bytes of the issue.
const BYTES = fromHex(
  '101600044d5154540502003c00000976696374696d2d3139' + '820700010000017401' + '101600044d5154540502003c00000976696374696d2d3139',
);
const TRIES = 20;

/** Error-level (or shard death) lines of the broker's stderr, judged as the fuzzer judges them. */
const errorLines = (stderr: string): string[] => stderr.split('\n').filter(isErrorLine);

// warn: error lines reach stderr (the helper's default level would too, with more noise).
// --accept shards: the kernel spreads the tries over the shards, so most land away from
// victim-19's home shard and the claim crosses shards (with main placing them by load,
// every try landed on the same shard and none failed).
const h = useBroker({ shards: 4, extraArgs: ['--log-level', 'warn', '--accept', 'shards'] });

test('a null connection in Delivery.write: CONNECT, SUBSCRIBE while held, CONNECT again, 20 times, no error logged', async (t) => {
  const publisher = await connect(h.url, { version: 5 });
  const other = await connect(h.url, { version: 5 });
  try {
    await publish(publisher, 't', 'retained', { qos: 1, retain: true });
    await subscribe(other, 't', { qos: 1 });
    for (let i = 0; i < TRIES; i++) {
      const s = net.connect({ host: '127.0.0.1', port: h.port });
      s.on('error', () => { /* the broker closes on the second CONNECT */ });
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(BYTES);
      await sleep(100);
      s.destroy();
    }
    await sleep(300);
    const errors = errorLines(h.broker.stderr());
    t.diagnostic(`${errors.length} error-level line(s) in ${TRIES} tries`);
    assert.deepEqual(errors, []);
    assert.ok(h.broker.alive());
  } finally {
    await endAll([publisher, other]);
  }
});

// Regression (issue #14's intermittent SUBACK stall; issue #12's isolation): a peer's ring held
// by one subscriber stalled other clients' SUBACK and UNSUBACK. Flow control stops draining
// the ring from a peer shard while a subscriber it feeds is behind, so that the publisher
// there waits; a subscriber behind but not slow (it takes more than the slow-client rate, less
// than the publisher sends) holds it for as long as it stays behind, and the ring drains at
// its pace. A persistent session's SUBACK and UNSUBACK went through the commit gate, whose
// groups leave strictly in order, so they waited behind every ack gated before them on the
// shard: the publisher's PUBACKs, which wait for commit-barrier answers sitting in the held
// ring. 13 s here, and on a loaded machine past MQTT.js's 5 s. A SUBACK or UNSUBACK depends
// only on this shard's commit of the session's subscriptions, and now waits for nothing else
// (durable/gate.ts `sendSubackGated`). Still open: a CONNECT whose claim crosses to a shard
// behind the held ring waits as long (its CONNACK timed out here); see the report of issue #14.
//
// Two shards, placed by least-loaded order: the slow subscriber on shard 0, the client that
// subscribes (its id homed on its own shard) and the publisher on shard 1.
// --slow-client-ms 2000 makes the slow-client rate 128 KiB/s, so a subscriber acknowledging
// 400 KiB/s of QoS 1 is behind (its window full, a socket's worth queued) and never slow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useBroker } from '../helpers/matrix.ts';
import { buildConnect, buildPublish, frame, mqttString } from '../helpers/raw.ts';
import { homeShard } from '../../src/worker/peers/frames.ts';
import { connect, endAll, sleep, subscribe, uid, unsubscribe, type MqttClient } from '../helpers/clients.ts';

const h = useBroker({ shards: 2, persistence: 'fast', extraArgs: ['--slow-client-ms', '2000'] });

const ACK_RATE = 25; // messages per second the slow subscriber acknowledges (400 KiB/s)
const PAYLOAD = Buffer.alloc(16 * 1024, 0x61);

/** A raw socket that sent `first` and collects what comes back until `until` is in it. */
function rawOpen(port: number, first: Buffer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(first));
    s.once('error', reject);
    s.once('data', () => resolve(s)); // CONNACK
  });
}

/**
 * A persistent QoS 1 subscriber on `filter` that reads everything at once but acknowledges at
 * most ACK_RATE messages a second: its window is full and its session queue holds more than a
 * socket's worth, so it is behind, yet it takes 400 KiB/s, above the slow-client rate.
 */
async function slowAcker(port: number, filter: string): Promise<{ acked: () => number; stop: () => void }> {
  const s = await rawOpen(port, buildConnect({ clientId: uid('slow'), clean: false }));
  s.write(frame(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(filter), Buffer.from([1])])));
  let buf: Buffer = Buffer.alloc(0);
  const ids: number[] = [];
  let acked = 0;
  s.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      let len = 0, mul = 1, i = 1;
      for (; i < buf.length && i <= 4; i++) { len += (buf[i]! & 0x7f) * mul; mul *= 128; if ((buf[i]! & 0x80) === 0) break; }
      if (i >= buf.length || buf.length < i + 1 + len) break;
      const start = i + 1;
      if ((buf[0]! & 0xf6) === 0x32) ids.push(buf.readUInt16BE(start + 2 + buf.readUInt16BE(start))); // PUBLISH QoS 1
      buf = buf.subarray(start + len);
    }
  });
  const acker = setInterval(() => {
    for (let k = 0; k < ACK_RATE / 5 && ids.length > 0; k++) {
      const id = Buffer.alloc(2);
      id.writeUInt16BE(ids.shift()!);
      s.write(frame(0x40, id));
      acked++;
    }
  }, 200);
  return { acked: () => acked, stop: () => { clearInterval(acker); s.destroy(); } };
}

/** A publisher that writes QoS 1 PUBLISHes as fast as the broker reads them (acks ignored). */
async function flood(port: number, topic: string, n: number): Promise<{ stop: () => void }> {
  const s = await rawOpen(port, buildConnect({ clientId: uid('pub') }));
  s.on('data', () => {});
  let i = 0;
  let stopped = false;
  const more = (): void => {
    while (!stopped && i < n) {
      i++;
      if (!s.write(buildPublish({ topic, payload: PAYLOAD, qos: 1, id: (i % 65535) + 1 }))) { s.once('drain', more); return; }
    }
  };
  more();
  return { stop: () => { stopped = true; s.destroy(); } };
}

test('a peer ring held by one subscriber stalls SUBACK: a persistent session\'s SUBACK and UNSUBACK come while a subscriber that is behind holds a peer', async (t) => {
  const base = uid('held');
  const clients: MqttClient[] = [];
  const reader = await slowAcker(h.port, `${base}/data/#`); // shard 0
  let pub: { stop: () => void } | undefined;
  try {
    let id = uid('x');
    while (homeShard(id, 2) !== 1) id = uid('x');
    const x = await connect(h.url, { version: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } } as never); // shard 1
    clients.push(x);
    clients.push(await connect(h.url, { version: 4 })); // shard 0: a filler, so the publisher goes to shard 1
    pub = await flood(h.port, `${base}/data/x`, 4000); // shard 1
    // The ring from shard 1 to shard 0 fills while the slow subscriber is behind.
    await sleep(5000);
    const t1 = performance.now();
    await subscribe(x, `${base}/other/${uid()}`, { qos: 1 }, 20_000);
    const subackMs = performance.now() - t1;
    const t2 = performance.now();
    await unsubscribe(x, `${base}/other/none`, 20_000);
    const unsubackMs = performance.now() - t2;
    t.diagnostic(`SUBACK after ${Math.round(subackMs)} ms, UNSUBACK after ${Math.round(unsubackMs)} ms; the slow subscriber acknowledged ${reader.acked()}`);
    // The SUBACK still waits for its route barrier, which gives up on a peer that does not answer within 1 s.
    assert.ok(subackMs < 4000, `SUBACK took ${Math.round(subackMs)} ms`);
    assert.ok(unsubackMs < 4000, `UNSUBACK took ${Math.round(unsubackMs)} ms`);
  } finally {
    pub?.stop();
    reader.stop();
    await endAll(clients);
  }
});

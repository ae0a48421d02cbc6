// The clients that hold a peer's ring (test/regress/peer-ring-held-*): a subscriber that is
// behind but not slow (with --slow-client-ms 2000), and a publisher that writes as fast as the
// broker reads.
import net from 'node:net';
import { buildConnect, buildPublish, frame, mqttString } from '../helpers/raw.ts';
import { endAll, uid, type MqttClient } from '../helpers/clients.ts';
import { homeShard } from '../../src/worker/peers/frames.ts';

const ACK_RATE = 25; // messages per second the slow subscriber acknowledges (400 KiB/s)
const PAYLOAD = Buffer.alloc(16 * 1024, 0x61);

/** A raw socket that sent `first` and collects what comes back until `until` is in it. */
export function rawOpen(port: number, first: Buffer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(first));
    s.once('error', reject);
    s.once('data', () => resolve(s)); // CONNACK
  });
}

/** Calls `each` for every QoS 1 PUBLISH read from `s`, with where its topic ends (its packet id). */
export function onQos1Publish(s: net.Socket, each: (buf: Buffer, topicEnd: number) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      let len = 0, mul = 1, i = 1;
      for (; i < buf.length && i <= 4; i++) { len += (buf[i]! & 0x7f) * mul; mul *= 128; if ((buf[i]! & 0x80) === 0) break; }
      if (i >= buf.length || buf.length < i + 1 + len) break;
      const start = i + 1;
      if ((buf[0]! & 0xf6) === 0x32) each(buf, start + 2 + buf.readUInt16BE(start));
      buf = buf.subarray(start + len);
    }
  });
}

/**
 * A persistent QoS 1 subscriber on `filter` that reads everything at once but acknowledges at
 * most ACK_RATE messages a second: its window is full and its session queue holds more than a
 * socket's worth, so it is behind, yet it takes 400 KiB/s, above the slow-client rate.
 */
export async function slowAcker(port: number, filter: string, ackRate = ACK_RATE): Promise<{ acked: () => number; stop: () => void }> {
  const s = await rawOpen(port, buildConnect({ clientId: uid('slow'), clean: false }));
  s.write(frame(0x82, Buffer.concat([Buffer.from([0, 1]), mqttString(filter), Buffer.from([1])])));
  const ids: number[] = [];
  let acked = 0;
  onQos1Publish(s, (buf, topicEnd) => ids.push(buf.readUInt16BE(topicEnd)));
  const acker = setInterval(() => {
    for (let k = 0; k < ackRate / 5 && ids.length > 0; k++) {
      const id = Buffer.alloc(2);
      id.writeUInt16BE(ids.shift()!);
      s.write(frame(0x40, id));
      acked++;
    }
  }, 200);
  return { acked: () => acked, stop: () => { clearInterval(acker); s.destroy(); } };
}

/** A publisher that writes QoS 1 PUBLISHes as fast as the broker reads them (acks ignored). */
export async function flood(port: number, topic: string, n: number): Promise<{ stop: () => void }> {
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


/** QoS 1 PUBLISHes whose payloads start with their number 0..n-1, written as fast as the broker reads them (acks ignored). */
export async function numberedFlood(port: number, topic: string, n: number, payloadBytes: number): Promise<{ written: () => number; stop: () => void }> {
  const s = await rawOpen(port, buildConnect({ clientId: uid('pub') }));
  s.on('data', () => {});
  s.on('error', () => {});
  const payload = Buffer.alloc(payloadBytes, 0x70);
  let i = 0;
  const more = (): void => {
    while (i < n && !s.destroyed) {
      payload.writeUInt32BE(i, 0);
      const ok = s.write(buildPublish({ version: 4, topic, payload, qos: 1, id: (i % 65535) + 1 }));
      i++;
      if (!ok) { s.once('drain', more); return; }
    }
  };
  more();
  return { written: () => i, stop: () => s.destroy() };
}

/** A client id whose home is shard `home` of `n`. */
export function idHomedOn(home: number, n: number): string {
  for (;;) { const id = uid('x'); if (homeShard(id, n) === home) return id; }
}

/** The slow subscriber on `<base>/data/#` (the first connection: shard 0), and what a test adds. */
export interface HeldScene {
  base: string;
  reader: { acked: () => number; stop: () => void };
  clients: MqttClient[];
  pub: { stop: () => void } | null;
  end(): Promise<void>;
}

/** `ackRate`: messages a second the slow subscriber acknowledges (16 KiB each). */
export async function heldScene(port: number, ackRate = ACK_RATE): Promise<HeldScene> {
  const base = uid('held');
  const reader = await slowAcker(port, `${base}/data/#`, ackRate);
  const sc: HeldScene = {
    base, reader, clients: [], pub: null,
    async end() { sc.pub?.stop(); reader.stop(); await endAll(sc.clients); },
  };
  return sc;
}

// Regression: a shard reads every socket into one buffer (src/worker/net/socket-reader.ts). Bytes
// that outlive the read — a retained message, a QoS 1 message queued for an offline persistent
// session (v5: with its Correlation Data property), a will — must come out intact after a lot of
// other traffic went through the same reads, with payloads of every size (small ones share a
// slab, big ones get their own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadSlab } from '../../src/worker/net/socket-reader.ts';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildAck, buildConnect, type ReceivedPublish } from '../helpers/raw.ts';
import { collect, connect, end, endAll, publish, subscribe, uid, type ProtocolVersion } from '../helpers/clients.ts';

/** A payload whose every byte depends on `tag` and its position, so any overwrite shows. */
function pattern(tag: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (tag * 31 + i * 7) & 0xff;
  return b;
}

test('ReadSlab: bytes kept earlier are never overwritten by later reads', () => {
  const slab = new ReadSlab();
  const src = Buffer.alloc(100_000);
  const kept: { buf: Buffer; at: number; n: number; tag: number }[] = [];
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (i % 50 === 0 ? seed % 100_000 : seed % 300);
    pattern(i, n).copy(src);
    const at = slab.keep(src, n);
    kept.push({ buf: slab.buf, at, n, tag: i });
    src.fill(0xee); // the read buffer is reused at once
  }
  for (const k of kept) assert.ok(k.buf.subarray(k.at, k.at + k.n).equals(pattern(k.tag, k.n)), `read ${k.tag} (${k.n} bytes) intact`);
});

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v = version as ProtocolVersion;

  test('retained, queued and will payloads are intact after other traffic reused the read buffer', async () => {
    const id = uid('rb');
    const topic = (s: string): string => `${id}/${s}`;
    const retained = pattern(1, 300);
    const queued = pattern(2, 70);
    const correlation = pattern(3, 16);
    const willPayload = pattern(4, 40);

    // A persistent session that goes offline with a subscription: the QoS 1 message waits for it.
    const offlineId = uid('off');
    const persistent = { clean: false, clientId: offlineId, ...(v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) };
    const off = await connect(h.url, { version: v, ...persistent });
    await subscribe(off, topic('q'), { qos: 1 });
    await end(off);

    const watcher = await connect(h.url, { version: v });
    const seen = collect(watcher);
    await subscribe(watcher, topic('will'), { qos: 1 });
    const willer = await RawClient.open(h.port, { version: v });
    willer.send(buildConnect({ version: v, clientId: uid('will'), keepalive: 0, clean: true, will: { topic: topic('will'), payload: willPayload, qos: 1, retain: false } }));
    await willer.expectPacket('connack');

    const pub = await connect(h.url, { version: v });
    await publish(pub, topic('r'), retained, { qos: 1, retain: true });
    await publish(pub, topic('q'), queued, { qos: 1, ...(v === 5 ? { properties: { correlationData: correlation } } : {}) });

    // Other traffic through the same shards' reads: many small and some large publishes.
    const noise = await connect(h.url, { version: v });
    for (let i = 0; i < 400; i++) noise.publish(topic('noise'), Buffer.alloc(i % 40 === 0 ? 100_000 : 1 + (i % 200), 0xee), { qos: 0 });
    await publish(noise, topic('noise'), Buffer.alloc(10, 0xee), { qos: 1 });

    // The will goes out when the connection drops without DISCONNECT.
    willer.destroy();
    const [will] = await seen.waitFor(1, 5000, (m) => m.topic === topic('will'));
    assert.ok(will!.payload.equals(willPayload), 'will payload intact');

    // Raw client: the queued message may arrive in the same read as CONNACK.
    const { c: back } = await RawClient.connect(h.port, { version: v, clientId: offlineId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) });
    const q = await back.expectPacket('publish') as ReceivedPublish;
    assert.equal(q.topic, topic('q'));
    assert.ok(q.payload.equals(queued), 'queued payload intact');
    if (v === 5) assert.ok(Buffer.from((q.properties?.correlationData as Buffer | undefined) ?? []).equals(correlation), 'queued Correlation Data intact');
    back.send(buildAck(0x40, q.messageId!));
    back.disconnect();

    const late = await connect(h.url, { version: v });
    const r = collect(late);
    await subscribe(late, topic('r'), { qos: 1 });
    const [rm] = await r.waitFor(1, 5000, (m) => m.topic === topic('r'));
    assert.ok(rm!.payload.equals(retained), 'retained payload intact');

    await publish(pub, topic('r'), '', { qos: 1, retain: true });
    await endAll([watcher, pub, noise, late]);
  });
}, { shards: [1, 4] });

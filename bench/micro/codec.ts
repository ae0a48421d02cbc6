// Micro-bench of the per-message codec functions on the broker's hot path, one row each:
// framing (split a read chunk into packets), PUBLISH decode, PUBLISH encode (once per
// fan-out variant), packet-id patch of a shared template (once per QoS 1 subscriber), the
// ack fast path, and the reference codec (mqtt-packet) doing the same work for comparison.
//
//   node bench/micro/codec.ts [--ms N]      (or import { run } and call it)
import { getHeapStatistics } from 'node:v8';
import mqttPacket from 'mqtt-packet';
import { Framer } from '../../src/shared/protocol/framer.ts';
import { shortAckId } from '../../src/shared/protocol/ack-fast.ts';
import { InboundPublish, decodePublish, encodePublish, encodePublishAt, packetIdOffset, packetLength, publishRemaining, withPacketId } from '../../src/worker/protocol/publish-codec.ts';
import { ByteReader, ByteWriter } from '../../src/shared/bytes.ts';
import { PubFlag, writePublish, writePublishWire } from '../../src/worker/protocol/publish-view.ts';
import { PublishView } from '../../src/worker/protocol/publish-view.ts';
import { Outbox } from '../../src/worker/net/outbox.ts';

export interface CodecBenchRow { name: string; nsPerOp: number; opsPerSec: number; bytesPerOp: number }

const TOPIC = 'loadtest/17';
const PAYLOAD = Buffer.from('loadtest payload');

function measure(name: string, ms: number, body: (n: number) => void): CodecBenchRow {
  body(20_000); // warm up (and let V8 optimise)
  let n = 50_000;
  let elapsed = 0;
  let allocated = 0;
  let ops = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const a0 = getHeapStatistics().total_allocated_bytes;
    const t0 = performance.now();
    body(n);
    elapsed += performance.now() - t0;
    allocated += getHeapStatistics().total_allocated_bytes - a0;
    ops += n;
  }
  const nsPerOp = (elapsed * 1e6) / ops;
  void n;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp, bytesPerOp: allocated / ops };
}

export function run(opts: { ms?: number; print?: boolean } = {}): CodecBenchRow[] {
  const ms = opts.ms ?? 600;
  const rows: CodecBenchRow[] = [];
  const one = encodePublish(TOPIC, PAYLOAD, 0, false, false, 0, 4, null, -1, null, 0, true);
  const chunk = Buffer.concat(Array.from({ length: 1000 }, () => one)); // one 64 KiB-ish read

  let sink = 0;
  const framer = new Framer(1 << 20, (_b, _o, l) => { sink += l; }, () => { throw new Error('framing error'); });
  rows.push(measure('framing: Framer.push, 1000 PUBLISH per chunk (per packet)', ms, (n) => {
    for (let i = 0; i < n; i += 1000) framer.push(chunk);
  }));

  const pub = new InboundPublish();
  rows.push(measure('PUBLISH decode: decodePublish (topic string, payload view)', ms, (n) => {
    for (let i = 0; i < n; i++) { decodePublish(one, 0, one.length, 4, pub); sink += pub.payload.length; }
  }));
  const ref = mqttPacket.parser({ protocolVersion: 4 });
  ref.on('packet', (p: mqttPacket.Packet) => { sink += (p as mqttPacket.IPublishPacket).payload.length; });
  rows.push(measure('PUBLISH decode: mqtt-packet parser (reference)', ms, (n) => {
    for (let i = 0; i < n; i++) ref.parse(one);
  }));

  rows.push(measure('PUBLISH encode: encodePublish, QoS 0 v4', ms, (n) => {
    for (let i = 0; i < n; i++) sink += encodePublish(TOPIC, PAYLOAD, 0, false, false, 0, 4, null, -1, null, 0, true).length;
  }));
  const gen = { cmd: 'publish', topic: TOPIC, payload: PAYLOAD, qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket;
  rows.push(measure('PUBLISH encode: mqtt-packet generate (reference)', ms, (n) => {
    for (let i = 0; i < n; i++) sink += mqttPacket.generate(gen).length;
  }));
  const tpl = encodePublish(TOPIC, PAYLOAD, 1, false, false, 0, 4, null, -1, null, 0, true);
  const idOff = packetIdOffset(tpl);
  rows.push(measure('QoS 1 fan-out: withPacketId on a shared template (per subscriber)', ms, (n) => {
    for (let i = 0; i < n; i++) sink += withPacketId(tpl, idOff, (i & 0xfffe) + 1, false).length;
  }));
  // Into a connection's output, 1 KiB payloads (the isolation workload's): a copy per subscriber
  // with its id and then into the slab, against one copy into the slab with the id patched there;
  // and for a queued message, an encoded buffer of its own then copied, against encoding in place.
  const kib = Buffer.alloc(1024, 7);
  const tplK = encodePublish(TOPIC, kib, 1, false, false, 0, 4, null, -1, null, 0, true);
  const idOffK = packetIdOffset(tplK);
  const box = new Outbox();
  const turn = (): void => { if (box.packets === 50) { sink += box.bytes; box.clear(); } };
  rows.push(measure('QoS 1 per subscriber, 1 KiB: withPacketId + Outbox.append (before)', ms, (n) => {
    for (let i = 0; i < n; i++) { box.append(withPacketId(tplK, idOffK, (i & 0xfffe) + 1, false)); turn(); }
  }));
  rows.push(measure('QoS 1 per subscriber, 1 KiB: Outbox.appendWithId', ms, (n) => {
    for (let i = 0; i < n; i++) { box.appendWithId(tplK, idOffK, (i & 0xfffe) + 1); turn(); }
  }));
  rows.push(measure('queued QoS 1, 1 KiB: encodePublish + Outbox.append (before)', ms, (n) => {
    for (let i = 0; i < n; i++) { box.append(encodePublish(TOPIC, kib, 1, false, false, (i & 0xfffe) + 1, 4, null, -1, null, 0, true)); turn(); }
  }));
  rows.push(measure('queued QoS 1, 1 KiB: Outbox.claim + encodePublishAt', ms, (n) => {
    for (let i = 0; i < n; i++) {
      const rem = publishRemaining(TOPIC, kib, 1, 4, null, -1, null, 0, true);
      const dst = box.claim(packetLength(rem));
      encodePublishAt(dst, box.at, rem, TOPIC, kib, 1, false, false, (i & 0xfffe) + 1, 4, null, -1, null, 0);
      turn();
    }
  }));

  // The hop between shards: frame encode on the publishing shard, read in place on the other,
  // and what the receiving shard does per subscriber (copy into the output slab) against the
  // path it replaced (a Message with a payload copy, an encoded PUBLISH, Buffer.concat per turn).
  const w = new ByteWriter();
  rows.push(measure('ring frame encode: writePublish (v3.1.1 PUBLISH inside)', ms, (n) => {
    for (let i = 0; i < n; i++) { writePublish(w.reset(), PubFlag.DELIVER, i, 0, TOPIC, 'client-1', null, PAYLOAD, null); sink += w.pos; }
  }));
  rows.push(measure('ring frame encode: writePublishWire (a v3.1.1 QoS 0 PUBLISH as received)', ms, (n) => {
    for (let i = 0; i < n; i++) { writePublishWire(w.reset(), PubFlag.DELIVER, i, 0, 'client-1', null, null, one, 0, one.length); sink += w.pos; }
  }));
  writePublish(w.reset(), PubFlag.DELIVER, 1, 0, TOPIC, 'client-1', null, PAYLOAD, null);
  const frame = Buffer.from(w.buf.subarray(0, w.pos));
  const rd = new ByteReader();
  const fwd = new PublishView();
  rows.push(measure('ring frame decode: PublishView.read (payload left in the ring)', ms, (n) => {
    for (let i = 0; i < n; i++) { rd.at(frame, 0, frame.length).u8(); fwd.read(rd, 1); sink += fwd.wireLen; }
  }));
  const out = new Outbox();
  rows.push(measure('fast path per subscriber: read + Outbox.appendPatched, 1000 per turn', ms, (n) => {
    for (let i = 0; i < n; i++) {
      rd.at(frame, 0, frame.length).u8();
      fwd.read(rd, 1);
      out.appendPatched(fwd.buf, fwd.wireOff, fwd.wireLen, 0x30);
      if (out.packets === 1000) { sink += out.bytes; out.clear(); }
    }
  }));
  const parts: Buffer[] = [];
  let partBytes = 0;
  rows.push(measure('slow path per subscriber: read + toMessage + encodePublish + concat, 1000 per turn', ms, (n) => {
    for (let i = 0; i < n; i++) {
      rd.at(frame, 0, frame.length).u8();
      const m = fwd.read(rd, 1).toMessage();
      const b = encodePublish(m.topic, m.payload, 0, false, false, 0, 4, null, -1, null, 0, true);
      parts.push(b);
      partBytes += b.length;
      if (parts.length === 1000) { sink += Buffer.concat(parts, partBytes).length; parts.length = 0; partBytes = 0; }
    }
  }));

  const puback = Buffer.from([0x40, 2, 0x12, 0x34]);
  rows.push(measure('PUBACK decode: shortAckId fast path', ms, (n) => {
    for (let i = 0; i < n; i++) sink += shortAckId(puback, 0, 4, 0x40);
  }));
  const refAck = mqttPacket.parser({ protocolVersion: 4 });
  refAck.on('packet', (p: mqttPacket.Packet) => { sink += (p as mqttPacket.IPubackPacket).messageId!; });
  rows.push(measure('PUBACK decode: mqtt-packet parser (reference)', ms, (n) => {
    for (let i = 0; i < n; i++) refAck.parse(puback);
  }));

  if (sink === 42) console.log(''); // keep the work observable
  if (opts.print ?? true) {
    console.log('| function | ns/op | ops/s | heap bytes/op |');
    console.log('|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.name} | ${r.nsPerOp.toFixed(1)} | ${(r.opsPerSec / 1e6).toFixed(2)} M | ${r.bytesPerOp.toFixed(0)} |`);
  }
  return rows;
}

if (import.meta.main) {
  const i = process.argv.indexOf('--ms');
  run({ ms: i > 0 ? Number(process.argv[i + 1]) : undefined });
}

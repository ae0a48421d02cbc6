// The forwarded fast path (src/worker/protocol/publish-view.ts, Delivery.deliverView): a PUBLISH frame
// between shards carries the v3.1.1 QoS 0 encoding of the message, which the receiving shard
// copies straight into v3.1/v3.1.1 QoS 0 subscribers' output. Every subscriber here has a twin
// with the same version and options on the publisher's shard (the local path, which encodes
// from a Message): both must receive exactly the same bytes, whatever the variant.
// Placement: on a fresh broker, clients connected one after another land on shard i mod 2.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker, shoalOnly } from '../helpers/matrix.ts';
import { RawClient, buildPublish, hex, type Received, type Version } from '../helpers/raw.ts';
import { uid, sleep } from '../helpers/clients.ts';

interface Spec { name: string; version: Version; qos: number; nl?: boolean; rap?: boolean; maxPacket?: number }

const specs: Spec[] = [
  { name: 'v3.1 QoS 0', version: 3, qos: 0 },
  { name: 'v3.1.1 QoS 0', version: 4, qos: 0 },
  { name: 'v3.1.1 QoS 1', version: 4, qos: 1 },
  { name: 'v5 QoS 0', version: 5, qos: 0 },
  { name: 'v5 QoS 0 Retain As Published', version: 5, qos: 0, rap: true },
  { name: 'v5 QoS 1 No Local', version: 5, qos: 1, nl: true },
  { name: 'v5 QoS 0 max packet 64', version: 5, qos: 0, maxPacket: 64 },
];

/** PUBLISH bytes with the packet id zeroed (ids are per session). */
function normalized(p: Received): string {
  const raw = Buffer.from(p.raw);
  const q = (raw[0]! >> 1) & 3;
  if (q > 0) {
    let pos = 1;
    while (raw[pos]! & 0x80) pos++;
    pos++;
    pos += 2 + raw.readUInt16BE(pos);
    raw.writeUInt16BE(0, pos);
  }
  return hex(raw);
}

async function publishes(c: RawClient, n: number, ms = 5000): Promise<Received[]> {
  const out: Received[] = [];
  while (out.length < n) out.push(await c.waitFor('publish', ms));
  return out;
}

describe('forwarded PUBLISH between 2 shards: same bytes as a local delivery', shoalOnly('shard placement'), () => {
  const h = useBroker({ shards: 2, extraArgs: ['--socket-high-water', '16384'] });

  for (const pubVersion of [5, 4, 3] as const) test(`publisher ${pubVersion === 5 ? 'v5' : pubVersion === 4 ? 'v3.1.1' : 'v3.1'}: every subscriber version and option: QoS downgrade, Retain As Published, No Local, max packet size, retained flag`, async () => {
    const topic = uid('fwd');
    const clients: RawClient[] = [];
    const open = async (version: Version, maxPacket?: number): Promise<RawClient> => {
      const { c } = await RawClient.connect(h.port, { version, clientId: uid('c'), ...(maxPacket ? { properties: { maximumPacketSize: maxPacket } } : {}) }, { ok: true });
      clients.push(c);
      return c;
    };
    try {
      // A v3.1/3.1.1 publisher's QoS 0 PUBLISH is forwarded and delivered as the bytes it sent
      // (Routing.publishView); a v5 one's is built from a Message and encoded for the frame.
      const pub = await open(pubVersion); // shard 0
      const remote: RawClient[] = [];
      const local: RawClient[] = [];
      for (const s of specs) {
        remote.push(await open(s.version, s.maxPacket)); // shard 1
        local.push(await open(s.version, s.maxPacket));  // shard 0
      }
      for (const [i, s] of specs.entries()) {
        for (const c of [remote[i]!, local[i]!]) {
          await c.subscribe([s.version === 5 ? { topic, qos: s.qos, nl: s.nl ?? false, rap: s.rap ?? false } : { topic, qos: s.qos }])
            .catch((e: Error) => { throw new Error(`${s.name} (${c === remote[i] ? 'remote' : 'local'}): ${e.message}`); });
        }
      }
      await sleep(200); // routes announced (SUBACK waits for them, this is margin)
      const big = Buffer.alloc(100, 0x42);
      const sent: { payload: string | Buffer; qos: number; retain: boolean; props?: Buffer }[] = [
        { payload: 'plain', qos: 0, retain: false },
        { payload: 'retained', qos: 0, retain: true },
        { payload: 'q1', qos: 1, retain: false },
        { payload: big, qos: 0, retain: false },
        { payload: '', qos: 0, retain: false },
        { payload: 'üñí', qos: 1, retain: true },
        // v5 subscribers cannot take these as forwarded: a user property, a message expiry.
        { payload: 'props', qos: 0, retain: false, props: Buffer.from([0x26, 0, 1, 0x6b, 0, 1, 0x76]) },
        { payload: 'expiry', qos: 0, retain: false, props: Buffer.from([0x02, 0, 0, 0x0e, 0x10]) },
      ].filter((m) => pubVersion === 5 || m.props === undefined);
      for (const m of sent) pub.send(buildPublish({ version: pubVersion, topic, payload: m.payload, qos: m.qos, retain: m.retain, id: m.qos > 0 ? pub.id() : undefined, properties: m.props }));
      for (const [i, s] of specs.entries()) {
        const n = s.maxPacket ? sent.length - 1 : sent.length; // the 100-byte one is too large
        const [a, b] = await Promise.all([publishes(remote[i]!, n), publishes(local[i]!, n)]);
        assert.deepEqual(a.map(normalized), b.map(normalized), `${s.name}: remote shard vs local shard`);
        const retained = a.map((p) => (p.raw[0]! & 1) === 1);
        assert.deepEqual(retained, sent.filter((m) => !s.maxPacket || m.payload !== big).map((m) => s.rap === true && m.retain), `${s.name}: retain flags`);
        const qos = a.map((p) => (p.raw[0]! >> 1) & 3);
        assert.deepEqual(qos, sent.filter((m) => !s.maxPacket || m.payload !== big).map((m) => Math.min(m.qos, s.qos)), `${s.name}: QoS`);
        await remote[i]!.expectNothing(50);
      }
      // A v3.1.1 QoS 0 delivery is the publisher's packet (re-encoded): check one byte for byte.
      const p = remote[1]!.log.find((f) => f.cmd === 'publish') as Received;
      assert.equal(hex(p.raw), hex(buildPublish({ version: 4, topic, payload: 'plain' })));
    } finally {
      for (const c of clients) c.destroy();
    }
  });

  test('a v3.1.1 PUBLISH with a Remaining Length longer than it needs: subscribers on both shards get the shortest form', async () => {
    const topic = uid('long');
    const cs: RawClient[] = [];
    try {
      for (let i = 0; i < 3; i++) cs.push((await RawClient.connect(h.port, { version: 4, clientId: uid('l') }, { ok: true })).c);
      const [pub, remote, local] = cs as [RawClient, RawClient, RawClient];
      await remote.subscribe(topic, 0);
      await local.subscribe(topic, 0);
      const canonical = buildPublish({ version: 4, topic, payload: 'padded' });
      const body = canonical.subarray(2); // Remaining Length < 128: one byte; send it as two
      pub.send(Buffer.concat([Buffer.from([0x30, 0x80 | body.length, 0x00]), body]));
      pub.send(canonical);
      for (const c of [remote, local]) {
        const got = await publishes(c, 2);
        assert.equal(hex(got[0]!.raw), hex(canonical));
        assert.equal(hex(got[1]!.raw), hex(canonical));
      }
    } finally {
      for (const c of cs) c.destroy();
    }
  });

  test('a congested v3.1.1 subscriber on the other shard gets every message in order, identical bytes, after it reads again', async () => {
    const topic = uid('cong');
    const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('p') }, { ok: true });
    const { c: slow } = await RawClient.connect(h.port, { version: 4, clientId: uid('s') }, { ok: true });
    try {
      await slow.subscribe(topic, 0);
      await sleep(100);
      slow.pause();
      // ~3 MiB: far past the 16 KiB high-water mark (congested early), below the 8 MiB backlog bound.
      const N = 3000;
      const payload = (i: number) => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(1000, 0x61 + (i % 26))]);
      for (let i = 0; i < N; i += 100) {
        pub.send(Buffer.concat(Array.from({ length: 100 }, (_, k) => buildPublish({ version: 4, topic, payload: payload(i + k) }))));
        await sleep(2);
      }
      await sleep(300);
      slow.socket.resume();
      const got = await publishes(slow, N, 10000);
      for (let i = 0; i < N; i++) {
        assert.equal(got[i]!.raw.equals(buildPublish({ version: 4, topic, payload: payload(i) })), true, `message ${i} of ${N}: ${hex(got[i]!.raw.subarray(0, 16))}`);
      }
    } finally {
      pub.destroy();
      slow.destroy();
    }
  });
});

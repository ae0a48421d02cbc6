// Packet-id exhaustion. Outbound: a v5 subscriber that allows 65,535 in flight and never
// acknowledges gets exactly 65,535 QoS 1 PUBLISHes, every id once, then nothing more until it
// frees one (the next PUBLISH takes that id; the rest wait in its queue). Inbound: a client
// that holds all 65,535 QoS 2 ids open (never sends PUBREL) gets PUBREC for each, a re-sent
// id is not routed twice, others are served meanwhile, and it can still complete them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, buildAck, buildPublish } from '../helpers/raw.ts';
import { sleep, uid } from '../helpers/clients.ts';
import { probeMs } from './helpers.ts';

const IDS = 65_535;

const h = useBroker({ shards: 2 });

const count = (c: RawClient, cmd: string): number => c.log.reduce((n, f) => n + (f.cmd === cmd ? 1 : 0), 0);

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

test('outbound: 65,535 unacknowledged PUBLISHes use every id once, then the next waits for a freed id', async (t) => {
  const topic = uid('ids');
  const { c: sub } = await RawClient.connect(h.port, { version: 5, clientId: uid('hoarder') });
  await sub.subscribe(topic, 1);
  const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('pub') });
  const TOTAL = IDS + 100;
  for (let i = 0; i < TOTAL; i += 1000) {
    const n = Math.min(1000, TOTAL - i);
    await pub.write(Buffer.concat(Array.from({ length: n }, (_, k) => buildPublish({ version: 4, topic, payload: 'p', qos: 1, id: ((i + k) % IDS) + 1 }))));
    await until(() => count(pub, 'puback') >= i + n, 20_000, 'PUBACKs');
  }
  await until(() => count(sub, 'publish') >= IDS, 30_000, '65,535 deliveries');
  await sleep(300);
  const ids = sub.log.filter((f) => f.cmd === 'publish').map((f) => (f as unknown as { messageId: number }).messageId);
  t.diagnostic(`${ids.length} PUBLISHes in flight, ${new Set(ids).size} distinct ids`);
  assert.equal(ids.length, IDS, 'no more than the id space in flight');
  assert.equal(new Set(ids).size, IDS, 'every id once');
  assert.ok(await probeMs(h.url, 2000) < 2000, 'others served');
  // Free id 777: the next message goes out with it, and only one.
  sub.send(buildAck(0x40, 777));
  await until(() => count(sub, 'publish') > IDS, 5000, 'a PUBLISH after the PUBACK');
  await sleep(200);
  const more = sub.log.filter((f) => f.cmd === 'publish').slice(IDS).map((f) => (f as unknown as { messageId: number }).messageId);
  assert.deepEqual(more, [777]);
  sub.destroy();
  pub.destroy();
});

test('inbound: all 65,535 QoS 2 ids held open, a re-sent one not routed twice, then all completed', async (t) => {
  const topic = uid('q2');
  const { c: watcher } = await RawClient.connect(h.port, { version: 4, clientId: uid('watch') });
  await watcher.subscribe(topic, 0);
  const { c: pub } = await RawClient.connect(h.port, { version: 4, clientId: uid('q2pub') });
  for (let i = 0; i < IDS; i += 1000) {
    const n = Math.min(1000, IDS - i);
    await pub.write(Buffer.concat(Array.from({ length: n }, (_, k) => buildPublish({ version: 4, topic, payload: String(i + k + 1), qos: 2, id: i + k + 1 }))));
  }
  await until(() => count(pub, 'pubrec') >= IDS, 30_000, 'a PUBREC for every id');
  await until(() => count(watcher, 'publish') >= IDS, 30_000, 'every message routed');
  assert.ok(await probeMs(h.url, 2000) < 2000, 'others served');
  // Id 1 again (a resend before PUBREL): acknowledged, not routed again [MQTT-4.3.3-10].
  pub.send(buildPublish({ version: 4, topic, payload: 'again', qos: 2, id: 1, dup: true }));
  await until(() => count(pub, 'pubrec') > IDS, 5000, 'PUBREC for the resend');
  await sleep(200);
  assert.equal(count(watcher, 'publish'), IDS);
  const rels: Buffer[] = [];
  for (let id = 1; id <= IDS; id++) rels.push(buildAck(0x62, id));
  await pub.write(Buffer.concat(rels));
  await until(() => count(pub, 'pubcomp') >= IDS, 30_000, 'a PUBCOMP for every id');
  t.diagnostic(`${count(pub, 'pubrec')} PUBREC, ${count(pub, 'pubcomp')} PUBCOMP, ${count(watcher, 'publish')} routed`);
  pub.destroy();
  watcher.destroy();
});

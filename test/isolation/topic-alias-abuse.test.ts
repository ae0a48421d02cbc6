// Topic-alias abuse (v5). Inbound: a client that rebinds every alias it may use to a new topic,
// 20,000 times, gets each message routed by its current topic (the alias table stays at the
// broker's Topic Alias Maximum); an alias past that maximum is DISCONNECT 0x94, an alias
// never set is DISCONNECT 0x82, and neither costs anyone else. Outbound: a subscriber that
// allows 4 aliases and receives 2,000 topics gets every one right as aliases are reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, prop, type ReceivedPublish } from '../helpers/raw.ts';
import { collect, connect, end, subscribe, uid } from '../helpers/clients.ts';
import { probeMs } from './helpers.ts';

const MAX = 8;
const REBINDS = 20_000;

const h = useBroker({ shards: 2, extraArgs: ['--topic-alias-maximum', String(MAX)] });

const aliased = (topic: string, alias: number, payload: string): Buffer =>
  buildPublish({ version: 5, topic, payload, qos: 0, properties: prop.u16(0x23, alias) });

test('inbound aliases rebound 20,000 times: every message routed by its current topic', async (t) => {
  const base = uid('alias');
  const sub = await connect(h.url, { version: 5 });
  const col = collect(sub);
  await subscribe(sub, `${base}/#`, { qos: 0 });
  const { c } = await RawClient.connect(h.port, { version: 5, clientId: uid('rebind') });
  const chunks: Buffer[] = [];
  for (let i = 0; i < REBINDS; i++) {
    const alias = (i % MAX) + 1;
    // Set the alias to a new topic, then publish once more by the alias alone.
    chunks.push(aliased(`${base}/${i}`, alias, `set${i}`), aliased('', alias, `use${i}`));
    if (chunks.length >= 1000) { await c.write(Buffer.concat(chunks)); chunks.length = 0; }
  }
  await col.waitFor(2 * REBINDS, 30_000);
  const wrong = col.messages.filter((m) => m.topic !== `${base}/${m.payload.toString().slice(3)}`);
  t.diagnostic(`${col.messages.length} messages, ${wrong.length} on the wrong topic`);
  assert.equal(wrong.length, 0);
  assert.equal(c.closed, false);
  c.destroy();
  await end(sub);
});

test('an alias past the maximum is DISCONNECT 0x94, an unset one 0x82; others unaffected', async () => {
  const { c: over } = await RawClient.connect(h.port, { version: 5, clientId: uid('over') });
  over.send(aliased(uid('t'), MAX + 1, 'x'));
  const a = await over.expectClose(5000);
  assert.deepEqual(a.filter((f) => f.cmd === 'disconnect').map((f) => (f as unknown as { reasonCode: number }).reasonCode), [0x94]);
  const { c: unset } = await RawClient.connect(h.port, { version: 5, clientId: uid('unset') });
  unset.send(aliased('', 3, 'x'));
  const b = await unset.expectClose(5000);
  assert.deepEqual(b.filter((f) => f.cmd === 'disconnect').map((f) => (f as unknown as { reasonCode: number }).reasonCode), [0x82]);
  assert.ok(await probeMs(h.url, 2000, 5) < 2000);
});

test('outbound aliases: a subscriber allowing 4 gets 2,000 topics right as they are reused', async (t) => {
  const base = uid('out');
  const { c: sub } = await RawClient.connect(h.port, { version: 5, clientId: uid('sub'), properties: { topicAliasMaximum: 4 } as never });
  await sub.subscribe(`${base}/#`, 0);
  const pub = await connect(h.url, { version: 5 });
  const sent: string[] = [];
  for (let i = 0; i < 2000; i++) {
    // Some topics come back (alias hits), most are new (the LRU gives one up).
    const topic = `${base}/${i % 3 === 0 ? i % 7 : i}`;
    sent.push(topic);
    pub.publish(topic, String(i), { qos: 0 });
  }
  const table = new Map<number, string>();
  const seen: string[] = [];
  const deadline = Date.now() + 20_000;
  while (seen.length < sent.length && Date.now() < deadline) {
    const f = await sub.waitFor('publish', 5000, (p) => !(p as { seen?: boolean }).seen) as ReceivedPublish & { seen?: boolean; properties?: { topicAlias?: number } };
    f.seen = true;
    const alias = f.properties?.topicAlias;
    let topic = f.topic;
    if (alias !== undefined) {
      assert.ok(alias >= 1 && alias <= 4, `alias ${alias} beyond the client's maximum`);
      if (topic.length > 0) table.set(alias, topic);
      else topic = table.get(alias)!;
    }
    seen.push(topic);
  }
  t.diagnostic(`${seen.length} received, ${table.size} aliases in use`);
  assert.deepEqual(seen, sent);
  sub.destroy();
  await end(pub);
});

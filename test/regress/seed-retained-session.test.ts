// Regression: replay the Paho-interop style sessions recorded against Mosquitto 1.6.9 in
// /work/shared/seeds/000_71e5467f2ac524c8.txt (client ids "myclientid", "myclientid2",
// "clean retained"; clean session, keep alive 0; the same packet ids as in the log) and check
// the same observable results:
//  - retained session: TopicA/B (QoS 0), Topic/C (QoS 1, m2), TopicA/C (QoS 2, m3) published
//    retained; a "+/+" QoS 2 subscription receives exactly those three, RETAIN 1, DUP 0, with
//    QoS min'd (0, 1, 2); clearing them with empty payloads (m5, m6) leaves a second "+/+"
//    subscription with nothing. The log shows the whole session twice; so does the replay.
//  - unsubscribe session: myclientid2 subscribes TopicA, TopicA/B, Topic/C at QoS 2 and
//    unsubscribes TopicA; myclientid publishes QoS 1 empty messages (m2, m3, m4) to the three;
//    myclientid2 receives TopicA/B and Topic/C at QoS 1, not TopicA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker } from '../helpers/matrix.ts';
import { RawClient, buildPublish, buildAck, describeFrame, type Version, type ReceivedPublish as Pub } from '../helpers/raw.ts';

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const v = version as Version;

  /** CONNECT as in the log: clean session, keep alive 0; CONNACK (0, 0). */
  async function open(clientId: string): Promise<RawClient> {
    const { c, connack } = await RawClient.connect(h.port, { version: v, clientId, clean: true, keepalive: 0 });
    assert.equal(connack.sessionPresent, false, `${clientId}: CONNACK session present`);
    return c;
  }

  async function bye(c: RawClient): Promise<void> {
    c.disconnect();
    await c.expectClose(3000);
  }

  /** Publish like the Paho client in the log and complete the QoS flow. */
  async function pub(c: RawClient, topic: string, payload: string, qos: 0 | 1 | 2, id: number | undefined, retain: boolean): Promise<void> {
    c.send(buildPublish({ version: v, topic, payload, qos, id, retain }));
    if (qos === 1) {
      const ack = await c.expectPacket('puback') as Pub;
      assert.equal(ack.messageId, id, `PUBACK (m${id}) for ${topic}`);
    } else if (qos === 2) {
      const rec = await c.expectPacket('pubrec') as Pub;
      assert.equal(rec.messageId, id, `PUBREC (m${id}) for ${topic}`);
      c.send(buildAck(0x62, id!));
      const comp = await c.expectPacket('pubcomp') as Pub;
      assert.equal(comp.messageId, id, `PUBCOMP (m${id}) for ${topic}`);
    }
  }

  /** The suite's cleanup(): connect myclientid and myclientid2; "clean retained" clears whatever is retained. */
  async function cleanup(expectRetained: string[] = []): Promise<void> {
    await bye(await open('myclientid'));
    await bye(await open('myclientid2'));
    const c = await open('clean retained');
    const granted = await c.subscribe('#', 0);
    assert.deepEqual(granted, [0], 'SUBACK for "#" (QoS 0)');
    const found: string[] = [];
    for (;;) {
      let f;
      try { f = await c.next(700, 'retained'); } catch (e) { if ((e as Error).message.startsWith('timed out')) break; throw e; }
      assert.equal(f.cmd, 'publish', `unexpected ${describeFrame(f)}`);
      const p = f as Pub;
      assert.equal(p.retain, true, `only retained messages are expected here: ${describeFrame(p)}`);
      found.push(p.topic);
      c.send(buildPublish({ version: v, topic: p.topic, payload: '', qos: 0, retain: true }));
    }
    assert.deepEqual(found.sort(), [...expectRetained].sort(), '"clean retained" found these retained topics');
    await bye(c);
  }

  test('seed 000: retained messages — three retained publishes seen by "+/+" with QoS min\'d, then cleared (twice, as in the log)', async () => {
    for (let run = 1; run <= 2; run++) {
      await cleanup();

      // Retained publishes: (d0, q0, r1, m0, 'TopicA/B'), (q1, m2, 'Topic/C'), (q2, m3, 'TopicA/C'), 5 bytes each.
      const c = await open('myclientid');
      await pub(c, 'TopicA/B', 'qos 0', 0, undefined, true);
      await pub(c, 'Topic/C', 'qos 1', 1, 2, true);
      await pub(c, 'TopicA/C', 'qos 2', 2, 3, true);
      assert.deepEqual(await c.subscribe('+/+', 2), [2], `run ${run}: SUBACK for "+/+" (QoS 2)`);
      const got: Array<[string, string, number, boolean, boolean]> = [];
      for (let i = 0; i < 3; i++) {
        const p = await c.expectPacket('publish', 3000) as Pub;
        got.push([p.topic, p.payload.toString(), p.qos, p.retain, p.dup]);
        await c.ack(p);
      }
      await c.expectNothing(700);
      await bye(c);
      got.sort();
      assert.deepEqual(got, [
        ['Topic/C', 'qos 1', 1, true, false],
        ['TopicA/B', 'qos 0', 0, true, false],
        ['TopicA/C', 'qos 2', 2, true, false],
      ], `run ${run}: the three retained messages (topic, payload, QoS, RETAIN, DUP)`);

      // Clearing: empty retained payloads (m0, m5, m6), then "+/+" receives nothing.
      const d = await open('myclientid');
      await pub(d, 'TopicA/B', '', 0, undefined, true);
      await pub(d, 'Topic/C', '', 1, 5, true);
      await pub(d, 'TopicA/C', '', 2, 6, true);
      assert.deepEqual(await d.subscribe('+/+', 2), [2]);
      await d.expectNothing(1000);
      await bye(d);
    }
  });

  test('seed 000: unsubscribe — TopicA unsubscribed, TopicA/B and Topic/C delivered at QoS 1', async () => {
    await cleanup();
    const sub = await open('myclientid2');
    for (const t of ['TopicA', 'TopicA/B', 'Topic/C']) assert.deepEqual(await sub.subscribe(t, 2), [2], `SUBACK for ${t}`);
    sub.sendPacket({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['TopicA'] });
    assert.equal((await sub.expectPacket('unsuback') as Pub).messageId, 4);

    const p = await open('myclientid');
    await pub(p, 'TopicA', '', 1, 2, false);
    await pub(p, 'TopicA/B', '', 1, 3, false);
    await pub(p, 'Topic/C', '', 1, 4, false);

    const got: Array<[string, number, boolean, number]> = [];
    for (let i = 0; i < 2; i++) {
      const m = await sub.expectPacket('publish', 3000) as Pub;
      got.push([m.topic, m.qos, m.retain, m.payload.length]);
      await sub.ack(m);
    }
    await sub.expectNothing(700);
    await bye(sub);
    await bye(p);
    got.sort();
    assert.deepEqual(got, [['Topic/C', 1, false, 0], ['TopicA/B', 1, false, 0]], '(topic, QoS, RETAIN, bytes) as in the log');
  });
});

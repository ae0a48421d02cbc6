// Shoal and Mosquitto (2.0, the reference implementation) answer the same raw-packet scenarios,
// chosen where the specification leaves room (MAY, "either", or a reason code among several).
// Each scenario states what Shoal sends and whether Mosquitto sends the same; where they differ
// the difference is named here and docs/conformance.md ("Shoal and Mosquitto") says which answer
// the specification supports. Skips when the mosquitto binary is not installed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Differential, needsMosquitto, sideBySide, type Scenario } from '../helpers/differential.ts';
import { buildPublish, encode, frame, mqttString } from '../helpers/raw.ts';

const connect = (version: 4 | 5, clientId: string, extra: Record<string, unknown> = {}): Buffer =>
  encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId, ...extra } as never, version);

interface Case {
  name: string;
  scenario: Scenario;
  /** Shoal's transcript, exactly. */
  shoal: string[];
  /** Mosquitto's transcript when it differs (undefined: the same as Shoal's). */
  mosquitto?: string[];
}

const cases: Case[] = [
  {
    name: '3.1.1 CONNECT with protocol level 6: CONNACK 0x01 then close [MQTT-3.1.2-2]',
    scenario: async (t) => {
      await t.open('c', 4);
      t.send('c', frame(0x10, Buffer.concat([mqttString('MQTT'), Buffer.from([6, 2, 0, 60]), mqttString('diff-level')])));
      await t.settle('c');
    },
    shoal: ['c < connack 00 01', 'c closed'],
  },
  {
    name: 'PINGREQ with a non-minimal Remaining Length (0x80 0x00): answered; [MQTT-1.5.5-1] binds the sender only',
    scenario: async (t) => {
      await t.open('c', 4);
      t.send('c', connect(4, 'diff-varint'));
      t.send('c', Buffer.from([0xc0, 0x80, 0x00]));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < pingresp d0 00'],
  },
  {
    name: 'v5 PUBLISH QoS 1 that matches no subscriber: PUBACK 0x00 or 0x10 (No matching subscribers) — both allowed (3.4.2.1)',
    scenario: async (t) => {
      await t.open('p', 5);
      t.send('p', connect(5, 'diff-nomatch'));
      t.send('p', buildPublish({ version: 5, topic: 'diff/nomatch/x', payload: 'x', qos: 1, id: 1 }));
      await t.settle('p');
    },
    shoal: ['p < connack 00 00', 'p < puback 40 02 00 01'],
    mosquitto: ['p < connack 00 00', 'p < puback 40 03 00 01 10'],
  },
  {
    name: '3.1.1 SUBSCRIBE with an invalid filter (a/#/b): SUBACK 0x80 (Failure) or close',
    scenario: async (t) => {
      await t.open('s', 4);
      t.send('s', connect(4, 'diff-badfilter4'));
      t.send('s', encode({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'diff/#/b', qos: 0 }] } as never, 4));
      await t.settle('s');
    },
    shoal: ['s < connack 00 00', 's < suback 90 03 00 07 80'],
    mosquitto: ['s < connack 00 00', 's closed'],
  },
  {
    name: 'v5 SUBSCRIBE with an invalid filter: SUBACK 0x8F (Topic Filter invalid) or DISCONNECT',
    scenario: async (t) => {
      await t.open('s', 5);
      t.send('s', connect(5, 'diff-badfilter5', { properties: { requestProblemInformation: false } }));
      t.send('s', encode({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'diff/#/b', qos: 0 }] } as never, 5));
      await t.settle('s');
    },
    shoal: ['s < connack 00 00', 's < suback 90 04 00 07 00 8f'],
    mosquitto: ['s < connack 00 00', 's < disconnect e0 reason 81', 's closed'],
  },
  {
    name: 'v5 PUBREL for a packet id never used: PUBCOMP 0x92 (Packet Identifier not found)',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-pubrel'));
      t.send('c', Buffer.from([0x62, 0x02, 0x01, 0x23]));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < pubcomp 70 03 01 23 92'],
    mosquitto: ['c < connack 00 00', 'c < pubcomp 70 02 01 23'],
  },
  {
    name: '3.1.1 PUBREL for a packet id never used: PUBCOMP with the same id',
    scenario: async (t) => {
      await t.open('c', 4);
      t.send('c', connect(4, 'diff-pubrel4'));
      t.send('c', Buffer.from([0x62, 0x02, 0x01, 0x23]));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < pubcomp 70 02 01 23'],
  },
  {
    name: '3.1.1 overlapping subscriptions (diff/o/+ QoS 0, diff/o/# QoS 1): one copy at the higher QoS, or one per subscription [MQTT-3.3.5-1]',
    scenario: async (t) => {
      await t.open('s', 4);
      t.send('s', connect(4, 'diff-overlap-s'));
      t.send('s', encode({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'diff/o/+', qos: 0 }, { topic: 'diff/o/#', qos: 1 }] } as never, 4));
      await t.settle('s');
      await t.open('p', 4);
      t.send('p', connect(4, 'diff-overlap-p'));
      t.send('p', buildPublish({ version: 4, topic: 'diff/o/x', payload: 'x', qos: 1, id: 5 }));
      await t.settle('p');
      await t.settle('s');
    },
    shoal: [
      's < connack 00 00', 's < suback 90 04 00 02 00 01',
      'p < connack 00 00', 'p < puback 40 02 00 05',
      's < publish 32 0d 00 08 64 69 66 66 2f 6f 2f 78 00 01 78',
    ],
    // Mosquitto sends one copy at the QoS of the first matching subscription (0), not the maximum.
    mosquitto: [
      's < connack 00 00', 's < suback 90 04 00 02 00 01',
      'p < connack 00 00', 'p < puback 40 02 00 05',
      's < publish 30 0b 00 08 64 69 66 66 2f 6f 2f 78 78',
    ],
  },
  {
    name: 'v5 second CONNECT: a protocol error; DISCONNECT 0x82 before the close is allowed [MQTT-3.1.0-2]',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-twice'));
      t.send('c', connect(5, 'diff-twice'));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < disconnect e0 reason 82', 'c closed'],
    mosquitto: ['c < connack 00 00', 'c closed'],
  },
  {
    name: 'v5 Topic Alias above the Topic Alias Maximum the server gave: DISCONNECT 0x94 [MQTT-3.3.2-9]',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-alias'));
      t.send('c', buildPublish({ version: 5, topic: 'diff/alias', payload: 'x', properties: Buffer.from([0x23, 0xff, 0xff]) }));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < disconnect e0 reason 94', 'c closed'],
  },
  {
    name: '3.1.1 QoS 0 PUBLISH with DUP set: malformed, closed [MQTT-3.3.1-2]',
    scenario: async (t) => {
      await t.open('c', 4);
      t.send('c', connect(4, 'diff-dup0'));
      t.send('c', buildPublish({ version: 4, topic: 'diff/dup', payload: 'x', dup: true }));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c closed'],
    mosquitto: ['c < connack 00 00'], // Mosquitto ignores the DUP flag of a QoS 0 PUBLISH and keeps the connection
  },
  {
    name: 'v5 PUBLISH to a topic name with a wildcard: DISCONNECT 0x90 (Topic Name invalid) or 0x82 [MQTT-3.3.2-2]',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-wild'));
      t.send('c', buildPublish({ version: 5, topic: 'diff/+/x', payload: 'x' }));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < disconnect e0 reason 90', 'c closed'],
    mosquitto: ['c < connack 00 00', 'c < disconnect e0 reason 82', 'c closed'],
  },
  {
    name: 'v5 UNSUBSCRIBE of a filter never subscribed: UNSUBACK 0x11 (No subscription existed)',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-unsub'));
      t.send('c', encode({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['diff/none'] } as never, 5));
      await t.settle('c');
    },
    shoal: ['c < connack 00 00', 'c < unsuback b0 04 00 09 00 11'],
  },
  {
    name: 'v5 CONNECT with an unknown Authentication Method: CONNACK 0x8C (Bad authentication method) or 0x87 [MQTT-4.12.0-1]',
    scenario: async (t) => {
      await t.open('c', 5);
      t.send('c', connect(5, 'diff-authm', { properties: { authenticationMethod: 'X-UNKNOWN' } }));
      await t.settle('c');
    },
    shoal: ['c < connack 00 8c', 'c closed'],
  },
];

describe('Shoal vs Mosquitto on scenarios where the specification leaves room', { ...needsMosquitto(), concurrency: false }, () => {
  const d = new Differential();
  before(async () => { await d.start(); });
  after(async () => { await d.stop(); });

  for (const c of cases) {
    test(c.name, async () => {
      const r = await d.run(c.scenario);
      assert.deepEqual(r.shoal, c.shoal, `Shoal's answer changed\n${sideBySide(r)}`);
      assert.deepEqual(r.mosquitto, c.mosquitto ?? c.shoal, `Mosquitto's answer is not the one recorded here\n${sideBySide(r)}`);
    });
  }
});

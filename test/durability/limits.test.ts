// Limits that keep a crowd of offline clients from taking the machine down (issue #5): the
// per-session queue bound in messages and in bytes, the global store bound with its two
// behaviours (refuse v5 QoS 1/2 with 0x97, or accept and drop what would be queued), the
// $SYS counters for each, and expiry that keeps running across a restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IConnectPacket } from 'mqtt-packet';
import { startBroker, isMosquitto, type Broker, type BrokerOptions } from '../helpers/broker.ts';
import { RawClient, codeOf, type Received, type ReceivedPublish } from '../helpers/raw.ts';

const skip = isMosquitto ? 'Shoal limits and $SYS names' : undefined;

function persistent(clientId: string, expiry = 600): Partial<IConnectPacket> & { version: 5 } {
  return { version: 5, clientId, clean: false, properties: { sessionExpiryInterval: expiry } };
}

/** A persistent v5 subscriber to `filter`, left offline. */
async function offlineSubscriber(b: Broker, clientId: string, filter: string): Promise<void> {
  const { c } = await RawClient.connect(b.port, persistent(clientId));
  await c.subscribe(filter, 1);
  c.disconnect();
  await c.closesWithin(2000);
}

async function publishAll(b: Broker, topic: string, payloads: Buffer[], version: 4 | 5 = 5, props?: { messageExpiryInterval: number }): Promise<number[]> {
  const { c } = await RawClient.connect(b.port, { version, clientId: `pub-${Math.random().toString(36).slice(2)}` });
  const codes: number[] = [];
  try {
    for (const [i, payload] of payloads.entries()) {
      c.sendPacket({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId: i + 1, ...(props ? { properties: props } : {}) });
      codes.push(codeOf(await c.expectPacket('puback')) ?? 0);
    }
  } finally { c.disconnect(); }
  return codes;
}

/** Reconnects the subscriber and returns the payloads it gets within `ms`, acknowledging each. */
async function drain(b: Broker, clientId: string, ms = 1500): Promise<{ payloads: string[]; present: boolean }> {
  const { c, connack } = await RawClient.connect(b.port, persistent(clientId));
  const payloads: string[] = [];
  try {
    const end = Date.now() + ms;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) break;
      let p: Received;
      try { p = await c.waitFor('publish', left); } catch { break; }
      payloads.push((p as ReceivedPublish).payload.toString());
      await c.ack(p);
    }
  } finally { c.disconnect(); }
  return { payloads, present: connack.sessionPresent };
}

/** The latest value of a $SYS topic once it satisfies `ok`. */
async function sysValue(b: Broker, name: string, ok: (v: number) => boolean): Promise<number> {
  const { c } = await RawClient.connect(b.port, { version: 4, clientId: `sys-${Math.random().toString(36).slice(2)}` });
  try {
    await c.subscribe(`$SYS/broker/${name}`, 0);
    let last = NaN;
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      try {
        const p = await c.waitFor('publish', end - Date.now()) as ReceivedPublish;
        last = Number(p.payload.toString());
        if (ok(last)) return last;
      } catch { break; }
    }
    throw new Error(`$SYS/broker/${name} never satisfied the check (last ${last})`);
  } finally { c.disconnect(); }
}

async function withBroker(opts: BrokerOptions, fn: (b: Broker, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-limits-'));
  const b = await startBroker({ sysInterval: 1, dataDir: dir, ...opts });
  try { await fn(b, dir); } finally {
    await b.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const msgs = (n: number, size = 10): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(String(i).padStart(size, '0')));

describe('queue and store limits', { skip }, () => {
  test('--max-queued-messages: an offline session keeps the first N; the rest are dropped and counted', async () => {
    await withBroker({ persistence: 'durable', shards: 2, extraArgs: ['--max-queued-messages', '5'] }, async (b) => {
      await offlineSubscriber(b, 'lim-count', 'lim/count');
      const codes = await publishAll(b, 'lim/count', msgs(12));
      assert.deepEqual(codes, new Array(12).fill(0), 'publisher is not refused for a subscriber\'s full queue');
      const { payloads } = await drain(b, 'lim-count');
      assert.deepEqual(payloads, msgs(5).map(String));
      assert.equal(await sysValue(b, 'messages/dropped/queue-full', (v) => v >= 7), 7);
    });
  });

  test('--max-queued-bytes: the queue holds at most that many payload + topic bytes', async () => {
    await withBroker({ persistence: 'memory', extraArgs: ['--max-queued-bytes', '1000'] }, async (b) => {
      await offlineSubscriber(b, 'lim-bytes', 'lim/bytes');
      await publishAll(b, 'lim/bytes', msgs(10, 300));
      const { payloads } = await drain(b, 'lim-bytes');
      assert.equal(payloads.length, 3, '3 × (300 + 9) bytes fit in 1000');
      assert.ok(await sysValue(b, 'messages/dropped/queue-full', (v) => v >= 7) >= 7);
    });
  });

  test('--max-store-bytes with --store-full refuse: v5 QoS 1 gets PUBACK 0x97 and is not delivered; 3.1.1 is accepted, not queued', async () => {
    await withBroker({ persistence: 'durable', extraArgs: ['--max-store-bytes', '1'] }, async (b) => {
      await offlineSubscriber(b, 'lim-store', 'lim/store');
      await new Promise((r) => setTimeout(r, 1200)); // the store size is polled every second
      assert.deepEqual(await publishAll(b, 'lim/store', msgs(2), 5), [0x97, 0x97]);
      assert.deepEqual(await publishAll(b, 'lim/store', msgs(2), 4), [0, 0]);
      const { payloads } = await drain(b, 'lim-store', 800);
      assert.deepEqual(payloads, []);
      assert.equal(await sysValue(b, 'messages/refused/quota-exceeded', (v) => v >= 2), 2);
      assert.equal(await sysValue(b, 'messages/dropped/store-full', (v) => v >= 2), 2);
      assert.ok(await sysValue(b, 'store/bytes', (v) => v > 0) > 0);
    });
  });

  test('--store-full drop: v5 QoS 1 is accepted at the limit, delivered to online subscribers, not queued for offline ones', async () => {
    await withBroker({ persistence: 'fast', extraArgs: ['--max-store-bytes', '1', '--store-full', 'drop'] }, async (b) => {
      await offlineSubscriber(b, 'lim-drop', 'lim/drop');
      const { c: online } = await RawClient.connect(b.port, { version: 5, clientId: 'lim-drop-online' });
      await online.subscribe('lim/drop', 1);
      await new Promise((r) => setTimeout(r, 1200));
      assert.deepEqual(await publishAll(b, 'lim/drop', msgs(2), 5), [0, 0]);
      for (let i = 0; i < 2; i++) await online.ack(await online.waitFor('publish', 3000));
      online.disconnect();
      assert.deepEqual((await drain(b, 'lim-drop', 800)).payloads, []);
    });
  });
});

describe('expiry across a restart', { skip }, () => {
  test('expired queued messages and expired sessions are gone after a restart; the rest is delivered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-expiry-'));
    const opts: BrokerOptions = { persistence: 'fast', shards: 2, dataDir: dir, sysInterval: 1 };
    let b = await startBroker(opts);
    try {
      await offlineSubscriber(b, 'exp-keep', 'exp/t');
      const { c: short } = await RawClient.connect(b.port, persistent('exp-short', 1));
      await short.subscribe('exp/t', 1);
      short.disconnect();
      await short.closesWithin(2000);
      await publishAll(b, 'exp/t', [Buffer.from('short-lived')], 5, { messageExpiryInterval: 1 });
      await publishAll(b, 'exp/t', [Buffer.from('long-lived')], 5, { messageExpiryInterval: 600 });
      await publishAll(b, 'exp/t', [Buffer.from('forever')], 5);
      assert.equal(await b.stop(), 0);
      await new Promise((r) => setTimeout(r, 1600));
      b = await startBroker(opts);
      const kept = await drain(b, 'exp-keep');
      assert.ok(kept.present, 'the session without expiry trouble is back');
      assert.deepEqual(kept.payloads, ['long-lived', 'forever']);
      const gone = await drain(b, 'exp-short', 300);
      assert.equal(gone.present, false, 'a session whose expiry passed while the broker was down is gone');
      assert.deepEqual(gone.payloads, []);
      assert.ok(await sysValue(b, 'messages/expired', (v) => v >= 1) >= 1);
    } finally {
      await b.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

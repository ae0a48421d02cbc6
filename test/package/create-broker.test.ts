// createBroker's options are the option table's (camelCase or kebab-case, refused the same way
// as flags); the Broker's calls: publish through routing and durability (an offline persistent
// session gets it after the broker restarts), refusals with stable codes, shard:exit, close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, type Broker } from '../../src/index.ts';
import mqtt from 'mqtt';
import { Collector, connect, eventually } from '../helpers/clients.ts';

const base = { host: '127.0.0.1', port: 0, accept: 'main', logLevel: 'silent' } as const;
const code = (c: string) => (e: unknown): boolean => (e as { code?: string }).code === c;

test('createBroker options: camelCase and kebab-case keys, refused like flags with the key named', async () => {
  await assert.rejects(createBroker({ ...base, maxInflight: 0 }), (e: Error) => code('SHOAL_CONFIG_INVALID')(e) && /^options\.maxInflight: must be an integer from 1 to 65535, got 0$/.test(e.message));
  await assert.rejects(createBroker({ ...base, 'max-inflight': 'ten' }), (e: Error) => /^options\.max-inflight: /.test(e.message));
  await assert.rejects(createBroker({ ...base, maxInflight: 5, 'max-inflight': 6 }), (e: Error) => /given twice/.test(e.message));
  await assert.rejects(createBroker({ ...base, noSuchOption: 1 }), (e: Error) => /^options\.noSuchOption: unknown option/.test(e.message));
  await assert.rejects(createBroker({ ...base, tlsClientAuth: true }), code('SHOAL_CONFIG_INVALID'));
  await assert.rejects(createBroker({ ...base, hooks: [{ module: './nowhere/missing.mjs' }], shards: 2, persistence: 'memory' }), (e: Error) => code('SHOAL_CONFIG_INVALID')(e) && /^hook \.\/nowhere\/missing\.mjs: /.test(e.message));
  await assert.rejects(createBroker({ ...base, hooks: [{ module: 'x', options: { f: () => 1 }, extra: 1 }] as never }), (e: Error) => /options\.hooks\[0\]: unknown key "extra"/.test(e.message));
  const b = await createBroker({ ...base, 'data-dir': '/nonexistent-unused', persistence: 'memory', shards: 1, maxQueuedMessages: 7 });
  try {
    assert.equal(b.config.dataDir, '/nonexistent-unused');
    assert.equal(b.config.maxQueuedMessages, 7);
    assert.equal(b.address(), null);
  } finally { await b.close(); }
});

test('broker.publish: QoS 1 resolves once committed, reaches an offline persistent session across a restart; bad input and a closed broker are refused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-embed-'));
  let b: Broker | null = null;
  try {
    b = await createBroker({ ...base, dataDir, persistence: 'durable', shards: 2 });
    await b.listen();
    const url = `mqtt://127.0.0.1:${b.address()!.port}`;
    const sub = await connect(url, { version: 5, clientId: 'keeper', clean: false, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync('embed/#', { qos: 1 });
    sub.end(true);
    await eventually(async () => (await b!.client('keeper')) === null, 3000, 'keeper offline');
    await b.publish('embed/kept', Buffer.from('while you were away'), { qos: 1, properties: { contentType: 'text/plain', userProperties: { from: 'test' } } });
    await assert.rejects(b.publish('embed/+', 'x'), code('SHOAL_PUBLISH_INVALID'));
    await assert.rejects(b.publish('embed/x', 'x', { qos: 3 as 1 }), code('SHOAL_PUBLISH_INVALID'));
    await b.close();
    await assert.rejects(b.publish('embed/late', 'x'), code('SHOAL_BROKER_NOT_RUNNING'));

    b = await createBroker({ ...base, dataDir, persistence: 'durable', shards: 2 });
    await b.listen();
    // The queued message may come with the CONNACK: listen before connecting.
    const again = mqtt.connect(`mqtt://127.0.0.1:${b.address()!.port}`, { protocolVersion: 5, clientId: 'keeper', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    const got = new Collector(again);
    await eventually(() => got.messages.length === 1, 5000, 'the queued message');
    const m = got.messages[0]!;
    assert.equal(`${m.topic} ${m.payload}`, 'embed/kept while you were away');
    assert.equal(m.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { from: 'test' });
    again.end(true);
  } finally {
    await b?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('shard:exit when a shard dies (and it is restarted), events from it again after; disconnect() of a client that is not there is false', async () => {
  const b = await createBroker({ ...base, persistence: 'memory', shards: 2, testHooks: true });
  try {
    await b.listen();
    const exits: { shard: number; restarting: boolean }[] = [];
    b.on('shard:exit', (e) => exits.push(e));
    const seen = new Set<number>();
    b.on('client:connect', (c: { shard: number }) => seen.add(c.shard));
    const c = await connect(`mqtt://127.0.0.1:${b.address()!.port}`, { version: 5, clientId: 'crasher' });
    c.on('error', () => {});
    c.publish('$SHOAL/test/crash-shard', 'x');
    await eventually(() => exits.length === 1, 5000, 'shard:exit');
    assert.equal(exits[0]!.restarting, true);
    // Events keep coming from the restarted shard (its events hook is added again).
    seen.clear();
    const url = `mqtt://127.0.0.1:${b.address()!.port}`;
    await eventually(async () => {
      (await connect(url, { version: 5 })).end(true);
      return seen.size === 2 && seen.has(exits[0]!.shard);
    }, 8000, 'client:connect from both shards after the restart');
    assert.equal(await b.disconnect('nobody'), false);
    c.end(true);
  } finally { await b.close(); }
});

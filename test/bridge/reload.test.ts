// SIGHUP reloads the config file's bridges: under traffic, a bridge added starts, one changed
// restarts on its session (nothing acknowledged lost), one removed stops and drops its session,
// and one left as it was is not touched (same connection, its stream in order); a bad file keeps
// the old set and says why (file:line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BridgeInfo } from '../../src/shared/admin-query.ts';
import { request } from '../admin/helpers.ts';
import { startBroker } from '../helpers/broker.ts';
import { collect, connect, eventually, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';
import { Mosquitto, bridgeState, crashShard, freePort, mosquittoMissing, tempDir } from './helpers.ts';

const bridge = (name: string, port: number, topics: string[]): string => `
  - name: ${name}
    address: 127.0.0.1:${port}
    restart-timeout: "0.2 0.5"
    topics: [${topics.join(', ')}]`;

test('SIGHUP adds, changes and removes bridges under traffic, the others untouched; a bad file keeps them', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'));
  const dir = tempDir('shoal-bridge-reload-');
  const file = join(dir, 'shoal.yaml');
  const write = (...bridges: string[]): void => writeFileSync(file, `bridges:${bridges.join('')}\n`);
  await mosq.start();
  const p = mosq.port;
  write(bridge('keep', p, ['k/# out 1']), bridge('change', p, ['c/# out 1']), bridge('drop', p, ['d/# out 1']));
  const shoal = await startBroker({ shards: 2, extraArgs: ['--config', file, '--http-port', '0'] });
  const clients: MqttClient[] = [];
  const admin = shoal.urls.http!;
  const status = async (): Promise<Map<string, BridgeInfo>> => {
    const r = await request(`${admin}/api/v1/bridges`);
    assert.equal(r.status, 200, r.text);
    return new Map((r.json() as BridgeInfo[]).map((b) => [b.name, b]));
  };
  const sighup = async (what: RegExp): Promise<void> => {
    const before = shoal.stderr().length;
    shoal.proc.kill('SIGHUP');
    await eventually(() => what.test(shoal.stderr().slice(before)), 10_000, `reload logged: ${what}`);
  };
  try {
    for (const n of ['keep', 'change', 'drop']) await bridgeState(shoal.url, n, '1');
    const keptSince = (await status()).get('keep')!.connected_since;

    const onMosq = await connect(mosq.url, { protocolVersion: 5 });
    const pub = await connect(shoal.url, { protocolVersion: 5 });
    clients.push(onMosq, pub);
    const got = collect(onMosq);
    await subscribe(onMosq, ['k/#', 'c/#', 'c2/#', 'd/#', 'n/#'], { qos: 1 });

    // Traffic on `keep` and `change` all through the reload.
    const N = 300;
    let acked = 0;
    const stream = (async () => {
      for (let i = 0; i < N; i++) {
        await publish(pub, 'k/s', String(i), { qos: 1 });
        await publish(pub, 'c/s', String(i), { qos: 1 });
        acked = i + 1;
        if (i % 20 === 0) await sleep(5);
      }
    })();
    await eventually(() => acked >= 50, 30_000, '50 messages streamed');
    write(bridge('keep', p, ['k/# out 1']), bridge('change', p, ['c/# out 1', 'c2/# out 1']), bridge('new', p, ['n/# out 1']));
    await sighup(/reload: bridges loaded/);
    await bridgeState(shoal.url, 'new', '1');
    await stream;

    const payloads = (t: string): number[] => got.messages.filter((m) => m.topic === t).map((m) => Number(m.payload));
    await eventually(() => new Set(payloads('c/s')).size === N && payloads('k/s').length >= N, 20_000, 'every acknowledged message crossed');
    assert.deepEqual(payloads('k/s'), Array.from({ length: N }, (_, i) => i), 'the untouched bridge: each once, in order');
    const s = await status();
    assert.deepEqual([...s.keys()].sort(), ['change', 'keep', 'new']);
    assert.equal(s.get('keep')!.connected_since, keptSince, 'the untouched bridge kept its connection');
    assert.equal(s.get('keep')!.reconnects, 0);

    // The changed bridge has its new rule, the added one carries, the removed one does not.
    await eventually(async () => {
      await publish(pub, 'c2/x', 'changed', { qos: 1 });
      await publish(pub, 'n/x', 'new', { qos: 1 });
      await sleep(100);
      return got.topics().includes('c2/x') && got.topics().includes('n/x');
    }, 10_000, 'the changed and the added bridge carry their rules');
    await publish(pub, 'd/x', 'dropped', { qos: 1 });
    const subs = await request(`${admin}/api/v1/mqtt/subscriptions?clientid=${encodeURIComponent('$bridge/drop')}`);
    assert.equal((subs.json() as { total: number }).total, 0, 'the removed bridge left no subscription behind');
    const session = await request(`${admin}/api/v1/mqtt/clients/${encodeURIComponent('$bridge/drop')}`);
    assert.equal(session.status, 404, `the removed bridge's session is gone: ${session.text}`);

    // A bad file: the bridges stay as they are, and the log says where.
    writeFileSync(file, `bridges:${bridge('keep', p, ['k/# sideways 1'])}\n`);
    await sighup(/reload: bridges not loaded, the old ones stay: .*shoal\.yaml:\d+/);
    await sleep(300);
    const after = await status();
    assert.deepEqual([...after.keys()].sort(), ['change', 'keep', 'new']);
    assert.ok([...after.values()].every((b) => b.connected), 'all still connected');
    await sleep(500);
    assert.ok(!got.topics().includes('d/x'), 'the removed bridge carried d/x');
    assert.ok(shoal.alive());
  } finally {
    for (const c of clients) c.end(true);
    await shoal.stop();
    await mosq.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a shard restarted after a SIGHUP runs the reloaded bridges, not the ones of the start', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'));
  const dir = tempDir('shoal-bridge-reload-');
  const file = join(dir, 'shoal.yaml');
  await mosq.start();
  writeFileSync(file, `bridges:${bridge('first', mosq.port, ['f/# out 1'])}\n`);
  const shoal = await startBroker({ shards: 2, extraArgs: ['--config', file, '--http-port', '0', '--test-hooks'] });
  const admin = shoal.urls.http!;
  const clients: MqttClient[] = [];
  const bridges = async (): Promise<BridgeInfo[]> => (await request(`${admin}/api/v1/bridges`)).json() as BridgeInfo[];
  try {
    await bridgeState(shoal.url, 'first', '1');
    writeFileSync(file, `bridges:${bridge('second', mosq.port, ['s/# out 1'])}\n`);
    shoal.proc.kill('SIGHUP');
    await bridgeState(shoal.url, 'second', '1');
    const [second] = await bridges();
    assert.equal(second?.name, 'second');
    await crashShard(shoal.url, admin, second.shard, clients);
    await eventually(async () => {
      const a = await request(`${admin}/api/v1/bridges`);
      const list = a.json() as BridgeInfo[];
      return a.status === 200 && a.headers['x-shoal-partial'] === undefined && list.length === 1 && list[0]!.name === 'second' && list[0]!.connected;
    }, 20_000, 'the restarted shard runs `second` again, and nothing runs `first`');
    const onMosq = await connect(mosq.url, { protocolVersion: 5 });
    const pub = await connect(shoal.url, { protocolVersion: 5 });
    clients.push(onMosq, pub);
    const got = collect(onMosq);
    await subscribe(onMosq, ['f/#', 's/#'], { qos: 1 });
    await publish(pub, 's/x', 'second', { qos: 1 });
    await publish(pub, 'f/x', 'first', { qos: 1 });
    await got.waitFor(1, 10_000);
    await sleep(500);
    assert.deepEqual(got.topics(), ['s/x']);
  } finally {
    for (const c of clients) c.end(true);
    await shoal.stop();
    await mosq.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bridges added by SIGHUP to a broker started with none show in /metrics (regression: the series were registered only for bridges at start)', { skip: mosquittoMissing, timeout: 60_000 }, async () => {
  const mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'));
  const dir = tempDir('shoal-bridge-reload-');
  const file = join(dir, 'shoal.yaml');
  writeFileSync(file, 'bridges: []\n');
  await mosq.start();
  const shoal = await startBroker({ shards: 2, extraArgs: ['--config', file, '--http-port', '0'] });
  const metrics = async (): Promise<string> => (await request(`${shoal.urls.http!}/metrics`)).text;
  try {
    assert.doesNotMatch(await metrics(), /shoal_bridge_connected\{/, 'no bridge series before any bridge');
    writeFileSync(file, `bridges:${bridge('later', mosq.port, ['l/# out 1'])}\n`);
    shoal.proc.kill('SIGHUP');
    await bridgeState(shoal.url, 'later', '1');
    await eventually(async () => /shoal_bridge_connected\{bridge="later"\} 1/.test(await metrics()), 10_000, 'shoal_bridge_connected{bridge="later"} 1 in /metrics');
  } finally {
    await shoal.stop();
    await mosq.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The shard that runs a bridge crashes while messages wait for a down remote: main restarts the
// shard, which starts the bridge again from the configuration; the bridge's session, with its
// queue, comes back from the store, and every message arrives once the remote is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BridgeInfo } from '../../src/shared/admin-query.ts';
import { request } from '../admin/helpers.ts';
import { connect, endAll, eventually, publish, type MqttClient } from '../helpers/clients.ts';
import { bridgeState, bridgedPair, crashShard, mosquittoMissing, persistentSubscriber } from './helpers.ts';

const yaml = (port: number): string => `
bridges:
  - name: m
    address: 127.0.0.1:${port}
    restart-timeout: "0.2 0.5"
    topics: [stream/# out 1]
`;

test('bridge: its shard crashes with messages queued for a down remote, the restarted shard delivers them', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const pair = await bridgedPair(yaml, { persistence: 'durable', extraArgs: ['--http-port', '0', '--test-hooks'] });
  const admin = pair.shoal.urls.http!;
  const clients: MqttClient[] = [];
  const get = async <T>(path: string): Promise<T> => (await request(`${admin}${path}`)).json() as T;
  try {
    const sub = await persistentSubscriber(pair.mosq.url, 'crash-sub');
    sub.client.end(true);
    await pair.mosq.kill('SIGTERM');
    await bridgeState(pair.shoal.url, 'm', '0');
    const pub = await connect(pair.shoal.url, { protocolVersion: 5 });
    clients.push(pub);
    const N = 50;
    for (let n = 0; n < N; n++) await publish(pub, 'stream/x', String(n), { qos: 1 });
    const [bridge] = await get<BridgeInfo[]>('/api/v1/bridges');
    assert.equal(bridge!.queued, N);
    await crashShard(pair.shoal.url, admin, bridge!.shard, clients);
    await eventually(async () => {
      const a = await request(`${admin}/api/v1/bridges`);
      return a.status === 200 && a.headers['x-shoal-partial'] === undefined && (a.json() as BridgeInfo[])[0]?.queued === N;
    }, 20_000, 'the restarted shard runs the bridge again, its queue restored');
    await pair.mosq.start();
    await bridgeState(pair.shoal.url, 'm', '1');
    const again = await persistentSubscriber(pair.mosq.url, 'crash-sub');
    clients.push(again.client);
    await eventually(() => new Set(again.seqs).size >= N, 20_000, `all ${N} at the mosquitto subscriber (got ${new Set(again.seqs).size})`);
    assert.deepEqual([...new Set(again.seqs)], Array.from({ length: N }, (_, i) => i));
  } finally {
    await endAll(clients);
    await pair.stop();
  }
});

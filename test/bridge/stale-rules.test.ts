// Stale rules: a rule removed from the configuration leaves no subscription behind, neither in
// the bridge's persistent local session (Shoal's REST API lists its subscriptions) nor in its
// persistent session on mosquitto (mosquitto's $SYS subscription count), across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../admin/helpers.ts';
import { collect, connect, eventually, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';
import { bridgeState, bridgedPair, mosquittoMissing } from './helpers.ts';

test('a rule removed across a restart is unsubscribed on both sides; the rules kept still carry', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  let rules = ['keep-out/# out 1', 'gone-out/# out 1', 'keep-in/# in 1', 'gone-in/# in 1', 'gone-both/# both 1'];
  const yaml = (port: number): string => `
bridges:
  - name: m
    address: 127.0.0.1:${port}
    restart-timeout: "0.2 0.5"
    topics: [${rules.join(', ')}]
`;
  const pair = await bridgedPair(yaml, { persistence: 'fast', extraArgs: ['--http-port', '0'], mosquitto: ['sys_interval 1'] });
  const clients: MqttClient[] = [];
  try {
    const localFilters = async (): Promise<string[]> => {
      const r = await request(`${pair.shoal.urls.http!}/api/v1/mqtt/subscriptions?clientid=${encodeURIComponent('$bridge/m')}`);
      assert.equal(r.status, 200, r.text);
      return (r.json() as { items: Array<{ topic: string }> }).items.map((s) => s.topic).sort();
    };
    // mosquitto's count of all subscriptions: the bridge's and this counter's own one.
    const counter = await connect(pair.mosq.url, { protocolVersion: 4 });
    clients.push(counter);
    const counts = collect(counter);
    await subscribe(counter, '$SYS/broker/subscriptions/count');
    const remoteCount = async (n: number): Promise<void> => {
      await eventually(() => counts.messages.at(-1)?.payload.toString() === String(n), 15_000, `mosquitto counts ${n} subscriptions (last: ${counts.messages.at(-1)?.payload})`);
    };
    assert.deepEqual(await localFilters(), ['gone-both/#', 'gone-out/#', 'keep-out/#']);
    await remoteCount(3 + 1);

    rules = ['keep-out/# out 1', 'keep-in/# in 1'];
    await pair.restartShoal('SIGTERM');
    await bridgeState(pair.shoal.url, 'm', '1');
    await eventually(async () => (await localFilters()).join() === 'keep-out/#', 10_000, 'only keep-out/# subscribed locally');
    await remoteCount(1 + 1);

    // What is kept still carries, both ways.
    const onShoal = await connect(pair.shoal.url, { protocolVersion: 5 });
    const onMosq = await connect(pair.mosq.url, { protocolVersion: 5 });
    clients.push(onShoal, onMosq);
    const shoalGot = collect(onShoal);
    const mosqGot = collect(onMosq);
    await subscribe(onShoal, ['keep-in/#', 'gone-in/#', 'gone-both/#'], { qos: 1 });
    await subscribe(onMosq, ['keep-out/#', 'gone-out/#', 'gone-both/#'], { qos: 1 });
    for (const t of ['keep-out/a', 'gone-out/a', 'gone-both/a']) await publish(onShoal, t, 's', { qos: 1 });
    for (const t of ['keep-in/b', 'gone-in/b', 'gone-both/b']) await publish(onMosq, t, 'm', { qos: 1 });
    await sleep(1000);
    // Each side's own messages, and from the other side only the kept rules'.
    assert.deepEqual(mosqGot.topics().sort(), ['gone-both/b', 'keep-out/a']);
    assert.deepEqual(shoalGot.topics().sort(), ['gone-both/a', 'keep-in/b']);
  } finally {
    for (const c of clients) c.end(true);
    await pair.stop();
  }
});

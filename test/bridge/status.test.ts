// A bridge's status — connected, last error, queued, sent, received, dropped, reconnects — in the
// REST API (GET /api/v1/bridges), /metrics and $SYS, through an outage of the remote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BridgeInfo } from '../../src/shared/admin-query.ts';
import { request, scrape } from '../admin/helpers.ts';
import { collect, connect, endAll, eventually, publish, subscribe, type MqttClient } from '../helpers/clients.ts';
import { bridgeState, bridgedPair, mosquittoMissing } from './helpers.ts';

const yaml = (port: number): string => `
sys-interval: 1
bridges:
  - name: m
    address: 127.0.0.1:${port}
    restart-timeout: "0.2 0.5"
    topics: [st/# out 1, back/# in 1]
`;

test('bridge status in REST, /metrics and $SYS follows an outage of the remote', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const pair = await bridgedPair(yaml, { extraArgs: ['--http-port', '0'] });
  const clients: MqttClient[] = [];
  const admin = pair.shoal.urls.http!;
  const status = async (): Promise<BridgeInfo> => {
    const a = await request(`${admin}/api/v1/bridges`);
    assert.equal(a.status, 200, a.text);
    const list = a.json() as BridgeInfo[];
    assert.equal(list.length, 1);
    return list[0]!;
  };
  try {
    const pub = await connect(pair.shoal.url, { protocolVersion: 5 });
    const remote = await connect(pair.mosq.url, { protocolVersion: 5 });
    const sys = await connect(pair.shoal.url, { protocolVersion: 5 });
    clients.push(pub, remote, sys);
    const sysGot = collect(sys);
    await subscribe(sys, '$SYS/broker/bridges/m/#');
    for (let i = 0; i < 5; i++) await publish(pub, 'st/a', String(i), { qos: 1 });
    await publish(remote, 'back/x', 'in', { qos: 1 });
    await eventually(async () => { const s = await status(); return s.sent >= 5 && s.received >= 1; }, 10_000, 'sent 5, received 1');
    const up = await status();
    assert.equal(up.connected, true);
    assert.equal(up.address, `127.0.0.1:${pair.mosq.port}`);
    assert.equal(up.queued, 0);
    assert.match(up.connected_since, /^\d{4}-/);

    await pair.mosq.kill('SIGKILL');
    await bridgeState(pair.shoal.url, 'm', '0');
    for (let i = 0; i < 3; i++) await publish(pub, 'st/a', `q${i}`, { qos: 1 });
    for (let i = 0; i < 4; i++) await publish(pub, 'st/a', `z${i}`, { qos: 0 });
    await eventually(async () => { const s = await status(); return s.queued === 3 && s.dropped === 4; }, 10_000, '3 queued, 4 dropped');
    const down = await status();
    assert.equal(down.connected, false);
    assert.notEqual(down.last_error, '');
    const m = await scrape(admin);
    assert.equal(m.value('shoal_bridge_connected', { bridge: 'm' }), 0);
    assert.equal(m.value('shoal_bridge_queued_messages', { bridge: 'm' }), 3);
    assert.equal(m.value('shoal_bridge_dropped_total', { bridge: 'm' }), 4);
    assert.ok(m.value('shoal_bridge_sent_total', { bridge: 'm' }) >= 5);
    await eventually(() => sysGot.messages.some((x) => x.topic === '$SYS/broker/bridges/m/queued' && x.payload.toString() === '3'), 5000, '$SYS queued 3');
    assert.ok(sysGot.messages.some((x) => x.topic === '$SYS/broker/bridges/m/connected' && x.payload.toString() === '0'));

    await pair.mosq.start();
    await bridgeState(pair.shoal.url, 'm', '1');
    await eventually(async () => { const s = await status(); return s.queued === 0 && s.sent >= 8; }, 10_000, 'the queue went out');
    assert.equal((await status()).reconnects, 1);
    assert.equal((await scrape(admin)).value('shoal_bridge_reconnects_total', { bridge: 'm' }), 1);
  } finally {
    await endAll(clients);
    await pair.stop();
  }
});

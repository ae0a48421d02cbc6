// /metrics on the admin port of a real broker with 4 shards, parsed by an exposition-format
// parser; values checked against real MQTT traffic (MQTT.js).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { collect, connect, endAll, eventually, publish, subscribe, uid, type MqttClient } from '../helpers/clients.ts';
import { scrape, startAdminBroker } from './helpers.ts';
import type { PromData } from 'prom2javascript';
import type { Broker } from '../helpers/broker.ts';

const SHARDS = 4;

describe('admin /metrics', () => {
  let b: Broker & { admin: string };
  // No $SYS: a shard counts the $SYS values it keeps as retained messages once a retained set comes in.
  before(async () => { b = await startAdminBroker({ shards: SHARDS, sysInterval: 0 }); });
  after(async () => { await b?.stop(); });

  test('families follow Prometheus naming and cover every shard and shard pair', async () => {
    const m = await scrape(b.admin);
    for (const [name, f] of Object.entries(m.families)) {
      assert.match(name, /^[a-z_:][a-z0-9_:]*$/, name);
      assert.ok(f.help !== '', `${name} has HELP`);
      if (!name.startsWith('shoal_')) continue;
      // Counters end in _total, nothing else does; sizes and durations name their unit.
      assert.equal(f.type === 'counter', name.endsWith('_total'), `${name} is a ${f.type}`);
      if (/bytes|seconds/.test(name)) assert.match(name, /_(bytes|seconds)(_total)?$/, `${name}: the unit goes last`);
    }
    assert.equal(m.value('shoal_shards'), SHARDS);
    for (let i = 0; i < SHARDS; i++) assert.equal(m.value('shoal_shard_up', { shard: String(i) }), 1, `shard ${i} up`);
    const pairs = m.families.shoal_ring_used_bytes!.data as PromData[];
    assert.equal(pairs.length, SHARDS * (SHARDS - 1), 'one ring per ordered shard pair');
    for (const p of pairs) assert.ok(p.value >= 0 && p.labels.from !== p.labels.to);
    // The default 4 MiB budget of a shard's inbound rings over its 3 peers: 1 MiB rings.
    assert.equal(m.value('shoal_ring_capacity_bytes'), 1024 * 1024);
    assert.equal(m.value('shoal_build_info', {}), 1);
    // Main's own process figures come from prom-client's default collectors.
    assert.ok(m.value('process_resident_memory_bytes') > 0);
    assert.ok(m.families.nodejs_eventloop_lag_p99_seconds);
  });

  test('the Grafana dashboard (docs/grafana/shoal.json) uses only metrics that /metrics serves', async () => {
    interface Panel { targets?: { expr: string }[]; panels?: Panel[] }
    const dash = JSON.parse(readFileSync(new URL('../../docs/grafana/shoal.json', import.meta.url), 'utf8')) as { panels: Panel[] };
    const exprs: string[] = [];
    const walk = (ps: Panel[]): void => { for (const p of ps) { exprs.push(...(p.targets ?? []).map((t) => t.expr)); walk(p.panels ?? []); } };
    walk(dash.panels);
    assert.ok(exprs.length >= 20, `${exprs.length} queries`);
    const m = await scrape(b.admin);
    const used = new Set(exprs.flatMap((e) => e.match(/\b(shoal|nodejs|process)_[a-z0-9_]+/g) ?? []));
    // A histogram's series are its family's name with _bucket, _sum or _count.
    const family = (name: string): string => {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && m.families[base]?.type === 'histogram' ? base : name;
    };
    for (const name of used) assert.ok(m.families[family(name)], `the dashboard queries ${name}, which /metrics does not serve`);
  });

  test('event-loop delay and utilisation of every shard, sampled each second', async () => {
    await eventually(async () => (await scrape(b.admin)).sum('shoal_event_loop_utilization_ratio') > 0, 5000, 'utilisation sampled');
    const m = await scrape(b.admin);
    for (let i = 0; i < SHARDS; i++) {
      const shard = { shard: String(i) };
      const u = m.value('shoal_event_loop_utilization_ratio', shard);
      assert.ok(u >= 0 && u <= 1, `shard ${i} utilisation ${u}`);
      const p50 = m.value('shoal_event_loop_delay_p50_seconds', shard);
      const p99 = m.value('shoal_event_loop_delay_p99_seconds', shard);
      const max = m.value('shoal_event_loop_delay_max_seconds', shard);
      assert.ok(p50 >= 0 && p50 <= p99 && p99 <= max && max < 5, `shard ${i}: p50 ${p50} p99 ${p99} max ${max}`);
    }
  });

  test('connections, subscriptions, messages, bytes, retained and queued move with MQTT traffic', async () => {
    const clients: MqttClient[] = [];
    try {
      const t0 = await scrape(b.admin);
      const topic = `adm/${uid('m')}`;
      const subs: MqttClient[] = [];
      for (let i = 0; i < SHARDS; i++) subs.push(await connect(b.url, { version: i % 2 === 0 ? 4 : 5 }));
      clients.push(...subs);
      const pub = await connect(b.url, { version: 5 });
      clients.push(pub);
      await eventually(async () => (await scrape(b.admin)).sum('shoal_connections') === t0.sum('shoal_connections') + SHARDS + 1, 5000, 'connections counted');
      const spread = await scrape(b.admin);
      // --accept main places each connection on the least-loaded shard: every shard has some.
      for (let i = 0; i < SHARDS; i++) assert.ok(spread.value('shoal_connections', { shard: String(i) }) >= 1, `shard ${i} has a connection`);
      assert.equal(spread.sum('shoal_connects_total') - t0.sum('shoal_connects_total'), SHARDS + 1);

      const got = subs.map((s) => collect(s));
      for (const s of subs) await subscribe(s, `${topic}/#`, { qos: 1 });
      const N = 20;
      const payload = 'x'.repeat(100);
      for (let k = 0; k < N; k++) await publish(pub, `${topic}/${k}`, payload, { qos: 1 });
      await publish(pub, `${topic}/kept`, 'retained', { qos: 1, retain: true });
      await Promise.all(got.map((g) => g.waitFor(N + 1)));

      await eventually(async () => {
        const m = await scrape(b.admin);
        return m.sum('shoal_messages_sent_total') - t0.sum('shoal_messages_sent_total') >= SHARDS * (N + 1);
      }, 5000, 'sent messages counted');
      const m = await scrape(b.admin);
      assert.equal(m.sum('shoal_messages_received_total') - t0.sum('shoal_messages_received_total'), N + 1);
      assert.equal(m.sum('shoal_messages_sent_total') - t0.sum('shoal_messages_sent_total'), SHARDS * (N + 1));
      assert.equal(m.sum('shoal_subscriptions') - t0.sum('shoal_subscriptions'), SHARDS);
      assert.equal(m.value('shoal_retained_messages') - t0.value('shoal_retained_messages'), 1);
      assert.ok(m.sum('shoal_received_bytes_total') - t0.sum('shoal_received_bytes_total') >= (N + 1) * payload.length, 'bytes in');
      assert.ok(m.sum('shoal_sent_bytes_total') - t0.sum('shoal_sent_bytes_total') >= SHARDS * N * payload.length, 'bytes out');
      assert.ok(m.sum('shoal_packets_received_total') > t0.sum('shoal_packets_received_total'));
      assert.equal(m.sum('shoal_messages_dropped_total'), t0.sum('shoal_messages_dropped_total'));

      // A persistent session offline: its QoS 1 messages wait in its queue.
      const pid = uid('persist');
      const p = await connect(b.url, { clientId: pid, clean: false });
      await subscribe(p, `${topic}/q`, { qos: 1 });
      await endAll([p]);
      await eventually(async () => (await scrape(b.admin)).sum('shoal_sessions_offline') === t0.sum('shoal_sessions_offline') + 1, 5000, 'offline session counted');
      for (let k = 0; k < 3; k++) await publish(pub, `${topic}/q`, `q${k}`, { qos: 1 });
      await eventually(async () => (await scrape(b.admin)).sum('shoal_queued_messages') === t0.sum('shoal_queued_messages') + 3, 5000, '3 queued messages');
      // Queued bytes are polled by each shard once a second.
      await eventually(async () => (await scrape(b.admin)).sum('shoal_queued_bytes') > t0.sum('shoal_queued_bytes'), 5000, 'queued bytes counted');

      await endAll(clients);
      clients.length = 0;
      await eventually(async () => (await scrape(b.admin)).sum('shoal_connections') === t0.sum('shoal_connections'), 5000, 'connections back to where they were');
    } finally {
      await endAll(clients);
    }
  });
});

// A SUBSCRIBE here once got no SUBACK within 5 s in a loaded fresh-clone CI run. Not reproduced
// since (136 runs beside other suites before the fix, 27 with it, load up to 31); the SUBACK
// stall found while looking, a persistent session's SUBACK queued behind other clients' acks
// that a peer ring held by flow control delays, is fixed (test/regress/peer-ring-held-stalls-suback).
test('shards count connections by transport and version, publishes by QoS, in-flight messages and store commits', async () => {
  const b = await startAdminBroker({ shards: 2, persistence: 'durable', sysInterval: 0 });
  const clients: MqttClient[] = [];
  try {
    const v4 = await connect(b.url, { version: 4 });
    const v5 = await connect(b.url, { version: 5 });
    const v3 = await connect(b.url, { version: 3 });
    // A persistent subscriber that never acknowledges keeps its QoS 1 deliveries in flight.
    const stuck = await connect(b.url, { version: 5, clientId: uid('stuck'), clean: false, properties: { sessionExpiryInterval: 60 }, manualConnect: false } as never);
    clients.push(v4, v5, v3, stuck);
    const topic = `kinds/${uid()}`;
    await subscribe(stuck, topic, { qos: 1 });
    (stuck as unknown as { handleMessage: unknown }).handleMessage = () => {}; // no PUBACK from here on
    for (let k = 0; k < 3; k++) await publish(v4, topic, 'q1', { qos: 1 });
    await publish(v5, topic, 'q0', { qos: 0 });
    await eventually(async () => {
      const m = await scrape(b.admin);
      const kind = (t: string, v: string): number => m.value('shoal_connections_by_transport', { transport: t, protocol_version: v });
      const inflight = m.sum('shoal_inflight_messages');
      const commits = ((m.families.shoal_store_commit_seconds?.data ?? []) as unknown as { count: number }[]).reduce((s, d) => s + d.count, 0);
      return kind('tcp', '4') === 1 && kind('tcp', '5') === 2 && kind('tcp', '3') === 1 && kind('ws', '5') === 0
        && m.value('shoal_publish_received_total', { qos: '1' }) === 3 && m.value('shoal_publish_received_total', { qos: '0' }) === 1
        && m.value('shoal_publish_sent_total', { qos: '1' }) >= 3 && inflight >= 3 && commits > 0;
    }, 8000, 'connections by kind, publishes by QoS, in-flight and commits counted');
    await endAll([v3]);
    await eventually(async () => (await scrape(b.admin)).value('shoal_connections_by_transport', { transport: 'tcp', protocol_version: '3' }) === 0, 5000, 'a closed connection counted out');
  } finally {
    await endAll(clients);
    await b.stop();
  }
});

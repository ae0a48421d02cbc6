// Cross-shard behaviour with 4 shards. Connections are placed on the shard with the fewest live
// connections, so clients connected one after another (each awaited) on a quiet broker land on
// different shards: client i of a freshly connected group sits on shard i mod 4.
// Against Mosquitto (one process) the same tests run as plain broker tests; the shard-crash
// test needs Shoal's --test-hooks and is skipped there.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, shoalOnly } from '../helpers/matrix.ts';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { RawClient, codeOf, type ReceivedPublish as Pub } from '../helpers/raw.ts';
import { connect, connectClient, collect, subscribe, unsubscribe, publish, end, endAll, uid, sleep, eventually, type MqttClient, type Collector } from '../helpers/clients.ts';

/** Connect n clients one after another (one per shard, round robin, on a quiet broker). */
async function group(url: string, n: number, version: 4 | 5): Promise<MqttClient[]> {
  const cs: MqttClient[] = [];
  for (let i = 0; i < n; i++) cs.push(await connect(url, { version, clientId: uid(`g${i}`) }));
  return cs;
}

/** Every message's payload exactly once, and nothing else. */
function assertExactly(col: Collector, expected: string[], who: string): void {
  const got = col.payloads().sort();
  assert.deepEqual(got, [...expected].sort(), `${who}: payloads received`);
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  test('fan-out: a message from any shard reaches every matching subscriber on every shard exactly once per subscription', async () => {
    const base = uid('fan');
    const cs = await group(h.url, 8, version); // two per shard
    try {
      const xs = cs.map((c) => collect(c, (t) => t.startsWith(`${base}/x/`)));
      const ys = cs.map((c) => collect(c, (t) => t.startsWith(`${base}/y/`)));
      for (const c of cs) await subscribe(c, `${base}/x/#`, { qos: 1 });
      // A second, disjoint subscription on two clients of different shards.
      await subscribe(cs[0]!, `${base}/y/+`, { qos: 2 });
      await subscribe(cs[5]!, `${base}/y/+`, { qos: 2 });
      await Promise.all(cs.flatMap((c, i) => [
        publish(c, `${base}/x/${i}`, `x${i}`, { qos: 1 }),
        publish(c, `${base}/y/${i}`, `y${i}`, { qos: 2 }),
        publish(c, `${base}/x/${i}/q0`, `x${i}q0`, { qos: 0 }),
      ]));
      const allX = cs.flatMap((_, i) => [`x${i}`, `x${i}q0`]);
      const allY = cs.map((_, i) => `y${i}`);
      for (const [i, col] of xs.entries()) await col.waitFor(allX.length, 5000).catch((e: Error) => { throw new Error(`client ${i} (${base}/x/#): ${e.message}`); });
      await ys[0]!.waitFor(allY.length, 5000);
      await ys[5]!.waitFor(allY.length, 5000);
      await sleep(500);
      for (const [i, col] of xs.entries()) assertExactly(col, allX, `client ${i} on ${base}/x/#`);
      for (const [i, col] of ys.entries()) assertExactly(col, i === 0 || i === 5 ? allY : [], `client ${i} on ${base}/y/+`);
    } finally { await endAll(cs); }
  });

  test('routes follow subscriptions: 40 clients (10 per shard) on their own topics, then half unsubscribe', async () => {
    const base = uid('routes');
    const cs = await group(h.url, 40, version);
    const pub = await connect(h.url, { version });
    try {
      const cols = cs.map((c) => collect(c));
      for (const [i, c] of cs.entries()) await subscribe(c, `${base}/${i}`, { qos: 1 });
      await Promise.all(cs.map((_, i) => publish(pub, `${base}/${i}`, `m${i}`, { qos: 1 })));
      for (const [i, col] of cols.entries()) await col.waitFor(1, 5000).catch((e: Error) => { throw new Error(`client ${i}: ${e.message}`); });
      for (const [i, c] of cs.entries()) if (i % 2) await unsubscribe(c, `${base}/${i}`);
      await Promise.all(cs.map((_, i) => publish(pub, `${base}/${i}`, `n${i}`, { qos: 1 })));
      for (const [i, col] of cols.entries()) if (!(i % 2)) await col.waitFor(2, 5000);
      await sleep(500);
      for (const [i, col] of cols.entries()) assertExactly(col, i % 2 ? [`m${i}`] : [`m${i}`, `n${i}`], `client ${i}`);
    } finally { await endAll([...cs, pub]); }
  });

  test('[MQTT-4.6.0-6] order per publisher is kept across shards: 2 publishers × 3000 QoS 1 + 2000 QoS 0 messages, 4 subscribers', async () => {
    const topic = uid('order');
    const [p1, s1, s2, s3, p2, s4] = await group(h.url, 6, version);
    const subs = [s1!, s2!, s3!, s4!];
    try {
      const cols = subs.map((s) => collect(s));
      for (const s of subs) await subscribe(s, topic, { qos: 1 });
      const N1 = 3000;
      const N0 = 2000;
      await Promise.all([
        ...Array.from({ length: N1 }, (_, i) => publish(p1!, topic, `a:1:${i}`, { qos: 1 }, 30_000)),
        ...Array.from({ length: N1 }, (_, i) => publish(p2!, topic, `b:1:${i}`, { qos: 1 }, 30_000)),
        ...Array.from({ length: N0 }, (_, i) => publish(p1!, topic, `a:0:${i}`, { qos: 0 }, 30_000)),
      ]);
      for (const [k, col] of cols.entries()) {
        await col.waitFor(2 * N1, 30_000, (m) => m.payload.includes(':1:')).catch((e: Error) => { throw new Error(`subscriber ${k}: ${e.message}`); });
      }
      await sleep(300);
      for (const [k, col] of cols.entries()) {
        const seqs = new Map<string, number[]>();
        for (const p of col.payloads()) {
          const [who, q, n] = p.split(':');
          const key = `${who}:${q}`;
          if (!seqs.has(key)) seqs.set(key, []);
          seqs.get(key)!.push(Number(n));
        }
        for (const key of ['a:1', 'b:1']) {
          const s = seqs.get(key) ?? [];
          assert.equal(s.length, N1, `subscriber ${k}: ${key} count (duplicates or loss)`);
          const firstBad = s.findIndex((v, i) => v !== i);
          assert.equal(firstBad, -1, `subscriber ${k}: ${key} out of order at index ${firstBad}: …${s.slice(Math.max(0, firstBad - 3), firstBad + 3).join(',')}…`);
        }
        const q0 = seqs.get('a:0') ?? [];
        const bad0 = q0.findIndex((v, i) => i > 0 && v <= q0[i - 1]!);
        assert.equal(bad0, -1, `subscriber ${k}: QoS 0 messages reordered or duplicated at index ${bad0}`);
        assert.ok(q0.length > 0, `subscriber ${k}: no QoS 0 message arrived`);
      }
    } finally { await endAll([p1, p2, ...subs]); }
  });

  test('[MQTT-3.1.4-2] takeover across shards moves the persistent session: old closed, Session Present 1, delivery once to the new connection', async () => {
    const id = uid('xto');
    const topic = uid('xto-t');
    const props = version === 5 ? { properties: { sessionExpiryInterval: 120 } } : {};
    // The first connection sits on some shard; the takeover connection lands on another (fewer connections).
    const old = await RawClient.connect(h.port, { version, clientId: id, clean: false, ...props });
    await old.c.subscribe(topic, 1);
    const fresh = await RawClient.connect(h.port, { version, clientId: id, clean: false, ...props });
    const pubs = await group(h.url, 4, version); // publishers spread over all shards
    try {
      assert.equal(fresh.connack.sessionPresent, true);
      const frames = await old.c.expectClose(5000);
      if (version === 5 && !isMosquitto) {
        assert.ok(frames.some((f) => f.cmd === 'disconnect' && codeOf(f) === 0x8e), `old connection: DISCONNECT 0x8E expected: ${old.c.history()}`);
      }
      await Promise.all(pubs.map((p, i) => publish(p, topic, `from ${i}`, { qos: 1 })));
      const got: string[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await fresh.c.expectPacket('publish') as Pub;
        got.push(m.payload.toString());
        await fresh.c.ack(m);
      }
      await fresh.c.expectNothing(400);
      assert.deepEqual(got.sort(), ['from 0', 'from 1', 'from 2', 'from 3']);
      // Offline queue, filled from every shard, delivered in per-publisher order on the next resumption.
      fresh.c.disconnect();
      await fresh.c.expectClose(3000);
      for (let k = 0; k < 3; k++) await Promise.all(pubs.map((p, i) => publish(p, topic, `off ${i}.${k}`, { qos: 1 })));
      const again = await RawClient.connect(h.port, { version, clientId: id, clean: false, ...props });
      try {
        assert.equal(again.connack.sessionPresent, true);
        const off: string[] = [];
        for (let i = 0; i < 12; i++) {
          const m = await again.c.expectPacket('publish') as Pub;
          off.push(m.payload.toString());
          await again.c.ack(m);
        }
        await again.c.expectNothing(400);
        for (let i = 0; i < 4; i++) {
          assert.deepEqual(off.filter((s) => s.startsWith(`off ${i}.`)), [0, 1, 2].map((k) => `off ${i}.${k}`), `publisher ${i} order`);
        }
      } finally {
        again.c.sendPacket(version === 5 ? { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : { cmd: 'disconnect' });
        again.c.socket.end();
      }
    } finally {
      fresh.c.destroy();
      await endAll(pubs);
      if (version === 4) { const { c } = await RawClient.connect(h.port, { version, clientId: id, clean: true }); c.disconnect(); }
    }
  });

  test('takeover while the old connection holds an unacknowledged QoS 1 delivery: re-sent with DUP on the new connection (other shard)', async () => {
    const id = uid('xinf');
    const topic = uid('xinf-t');
    const props = version === 5 ? { properties: { sessionExpiryInterval: 120 } } : {};
    const old = await RawClient.connect(h.port, { version, clientId: id, clean: false, ...props });
    await old.c.subscribe(topic, 1);
    const pub = await connect(h.url, { version });
    try {
      await publish(pub, topic, 'held', { qos: 1 });
      const first = await old.c.expectPacket('publish') as Pub & { messageId?: number; dup: boolean };
      const fresh = await RawClient.connect(h.port, { version, clientId: id, clean: false, ...props });
      try {
        assert.equal(fresh.connack.sessionPresent, true);
        await old.c.expectClose(5000);
        const again = await fresh.c.expectPacket('publish') as Pub & { messageId?: number; dup: boolean };
        assert.equal(again.payload.toString(), 'held');
        assert.equal(again.messageId, first.messageId, 'same packet id [MQTT-4.4.0-1]');
        assert.equal(again.dup, true, 'DUP 1 on redelivery [MQTT-3.3.1-1]');
        await fresh.c.ack(again);
        await fresh.c.expectNothing(300);
      } finally {
        fresh.c.sendPacket(version === 5 ? { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : { cmd: 'disconnect' });
        fresh.c.socket.end();
      }
    } finally {
      await end(pub);
      if (version === 4) { const { c } = await RawClient.connect(h.port, { version, clientId: id, clean: true }); c.disconnect(); }
    }
  });

  test('[MQTT-3.1.4-2] concurrent CONNECTs with one client id from every shard: exactly one connection remains and works', async () => {
    const id = uid('race');
    const n = 8;
    const conns = await Promise.all(Array.from({ length: n }, () => RawClient.open(h.port, { version })));
    for (const c of conns) c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId: id } as never);
    await sleep(2000);
    const alive = conns.filter((c) => !c.closed);
    try {
      const pending = alive.filter((c) => !c.log.some((f) => f.cmd === 'connack'));
      assert.deepEqual(pending.map((c) => c.history()), [], `${pending.length} of ${n} CONNECTs neither answered nor closed after 2 s (hung)`);
      assert.equal(alive.length, 1, `connections still open: ${alive.length} of ${n}: ${alive.map((c) => c.history()).join(' | ')}`);
      const survivor = alive[0]!;
      assert.ok(survivor.log.some((f) => f.cmd === 'connack' && codeOf(f) === 0), `survivor has no CONNACK 0: ${survivor.history()}`);
      const topic = uid('race-t');
      await survivor.subscribe(topic, 1);
      const p = await connect(h.url, { version });
      await publish(p, topic, 'to the survivor', { qos: 1 });
      const m = await survivor.waitFor('publish') as Pub;
      assert.equal(m.payload.toString(), 'to the survivor');
      await survivor.ack(m);
      await end(p);
    } finally { for (const c of conns) c.destroy(); }
  });

  test('retained message set concurrently from two shards: every shard then serves the same value', async () => {
    const topic = uid('xlww');
    for (let round = 0; round < 5; round++) {
      const [a, b] = await group(h.url, 2, version);
      await Promise.all([publish(a!, topic, `A${round}`, { qos: 1, retain: true }), publish(b!, topic, `B${round}`, { qos: 1, retain: true })]);
      await endAll([a, b]);
      await sleep(300); // replication settles
      const readers = await group(h.url, 4, version);
      try {
        const values: string[] = [];
        for (const r of readers) {
          const col = collect(r);
          await subscribe(r, topic, { qos: 1 });
          const [m] = await col.waitFor(1, 3000);
          values.push(m!.payload.toString());
        }
        assert.ok([`A${round}`, `B${round}`].includes(values[0]!), `round ${round}: stale retained value ${values[0]}`);
        assert.deepEqual(values, values.map(() => values[0]), `round ${round}: shards disagree on the retained value`);
      } finally { await endAll(readers); }
    }
  });

  test('retained and will across shards: set on one shard, seen on the others, cleared from another', async () => {
    const topic = uid('xret');
    const willTopic = uid('xwill');
    const [a, b, c, d] = await group(h.url, 4, version);
    try {
      await publish(a!, topic, 'kept', { qos: 1, retain: true });
      for (const [i, s] of [b!, c!, d!].entries()) {
        const col = collect(s, (t) => t === topic);
        await subscribe(s, topic, { qos: 1 });
        const [m] = await col.waitFor(1, 3000).catch((e: Error) => { throw new Error(`subscriber ${i}: ${e.message}`); });
        assert.equal(m!.payload.toString(), 'kept');
        assert.equal(m!.packet.retain, true);
        col.stop();
      }
      await publish(b!, topic, '', { qos: 1, retain: true });
      const late = await connect(h.url, { version });
      const lateCol = collect(late);
      await subscribe(late, topic, { qos: 1 });
      await assert.rejects(lateCol.waitFor(1, 600), 'retained message cleared on another shard still delivered');
      await end(late);
      // Will: the client with a will sits on the next shard; watchers on the others.
      const watchers = [c!, d!].map((s) => collect(s, (t) => t === willTopic));
      for (const s of [c!, d!]) await subscribe(s, willTopic, { qos: 1 });
      const { client: dying } = await connectClient(h.url, { version, will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false } });
      (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
      for (const w of watchers) await w.waitFor(1, 5000);
      dying.end(true);
    } finally { await endAll([a, b, c, d]); }
  });
}, { shards: [4] });

// A shard that crashes (uncaught exception in its worker via the test hook) is restarted; its
// clients are disconnected and may reconnect; clients on other shards keep working throughout.
describe('shard crash and restart (4 shards, --test-hooks, durable persistence)', () => {
  test('the crashed shard\'s client is closed, others keep working, the shard comes back, persistent session survives',
    shoalOnly('needs --test-hooks ($SHOAL/test/crash-shard)'), async (t) => {
      const b = await startBroker({ shards: 4, testHooks: true, persistence: 'durable', extraArgs: ['--accept', 'main'] });
      const clients: MqttClient[] = [];
      try {
        const base = uid('crash');
        const victimId = uid('victim');
        const { client: victim } = await connectClient(b.url, { version: 5, clientId: victimId, clean: false, properties: { sessionExpiryInterval: 300 } });
        clients.push(victim);
        // Not on the topics published during the crash: a QoS 1 message that went to the crashed
        // shard for a persistent session is not acknowledged but its publisher disconnected, to
        // resend (test/durability/shard-crash.test.ts). Traffic among the other shards goes on.
        await subscribe(victim, `${base}/victim`, { qos: 1 });
        const others = await group(b.url, 3, 5); // the three other shards
        clients.push(...others);
        const closes = others.map(() => 0);
        others.forEach((c, i) => c.on('close', () => { closes[i]!++; }));
        const cols = others.map((c) => collect(c));
        for (const c of others) await subscribe(c, `${base}/#`, { qos: 1 });

        let victimClosed = false;
        victim.on('close', () => { victimClosed = true; });
        victim.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 });
        // Meanwhile the other shards keep routing among themselves.
        for (let k = 0; k < 10; k++) {
          await publish(others[k % 3]!, `${base}/during/${k}`, `during ${k}`, { qos: 1 });
          await sleep(50);
        }
        await eventually(() => victimClosed, 5000, 'the crashed shard\'s client is disconnected');
        for (const [i, col] of cols.entries()) await col.waitFor(10, 5000, (m) => m.topic.includes('/during/')).catch((e: Error) => { throw new Error(`client on surviving shard ${i}: ${e.message}`); });
        assert.deepEqual(closes, [0, 0, 0], 'clients on the other shards were disconnected');
        assert.ok(b.alive(), `broker process died\nstderr:\n${b.stderr().slice(-2000)}`);

        // A new connection succeeds after the crash (retry while the shard restarts, 10 s at most).
        let fresh: MqttClient | undefined;
        const deadline = Date.now() + 10_000;
        while (!fresh) {
          try { fresh = await connect(b.url, { version: 5, timeout: 2000 }); } catch (e) {
            if (Date.now() > deadline) throw new Error(`no new connection within 10 s of the crash: ${(e as Error).message}\nstderr:\n${b.stderr().slice(-2000)}`);
            await sleep(200);
          }
        }
        clients.push(fresh);
        const freshCol = collect(fresh);
        await subscribe(fresh, `${base}/#`, { qos: 1 });
        await publish(others[0]!, `${base}/after/0`, 'after 0', { qos: 1 });
        await freshCol.waitFor(1, 5000, (m) => m.topic === `${base}/after/0`);
        await publish(fresh, `${base}/after/1`, 'after 1', { qos: 1 });
        for (const col of cols) await col.waitFor(1, 5000, (m) => m.topic === `${base}/after/1`);

        // The victim reconnects: its persistent session (durable store) is still there.
        const back = await connectClient(b.url, { version: 5, clientId: victimId, clean: false, properties: { sessionExpiryInterval: 0 } });
        clients.push(back.client);
        t.diagnostic(`victim reconnect: session present ${back.connack.sessionPresent}`);
        assert.equal(back.connack.sessionPresent, true, 'persistent session lost by the shard crash (durable persistence)');
        const backCol = collect(back.client);
        await publish(others[1]!, `${base}/victim`, 'welcome back', { qos: 1 });
        await backCol.waitFor(1, 5000, (m) => m.topic === `${base}/victim`);

        // Four more connections (every shard, the restarted one included) all work.
        const more = await group(b.url, 4, 5);
        clients.push(...more);
        const moreCols = more.map((c) => collect(c));
        for (const c of more) await subscribe(c, `${base}/final`, { qos: 1 });
        await publish(more[0]!, `${base}/final`, 'final', { qos: 1 });
        for (const col of moreCols) await col.waitFor(1, 5000);
      } finally {
        for (const c of clients) c.end(true);
        const code = await b.stop().catch(() => null);
        assert.equal(code, 0, `exit code after SIGTERM following a shard crash\nstderr:\n${b.stderr().slice(-2000)}`);
      }
    });
});

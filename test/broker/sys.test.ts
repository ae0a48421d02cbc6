// $SYS: the broker's counters, summed over all shards, published every --sys-interval seconds.
// Retained, QoS 0. Names follow Mosquitto's $SYS tree (the de-facto convention, also in the MQTT
// community "SYS topics" list) plus the seed broker's $SYS/broker/messages/per-sec. With 4 shards,
// the clients of a test connect one after another and sit on different shards, so a broker
// reporting only one shard's counters falls short of the expected deltas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, shoalOnly } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { connect, collect, subscribe, unsubscribe, publish, endAll, uid, sleep, type MqttClient } from '../helpers/clients.ts';

const SYS = '$SYS/broker/';

interface Update { value: string; at: number; retain: boolean; qos: number }

/** Follows every $SYS topic; waits for values with timeouts. */
class SysWatcher {
  readonly history = new Map<string, Update[]>();
  private waiters: Array<() => void> = [];
  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      if (!topic.startsWith('$SYS/')) return;
      const list = this.history.get(topic) ?? [];
      list.push({ value: payload.toString(), at: Date.now(), retain: packet.retain, qos: packet.qos });
      this.history.set(topic, list);
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    });
  }

  latest(topic: string): Update | undefined { const l = this.history.get(topic); return l?.[l.length - 1]; }

  /**
   * Resolve with the first value of `topic` satisfying `pred`: the latest known one, or any
   * arriving later. (Mosquitto re-publishes a counter only when it changed; Shoal every tick.)
   */
  until(topic: string, pred: (n: number) => boolean, timeout: number, what: string): Promise<number> {
    const since = Date.now();
    return new Promise((res, rej) => {
      let seenIdx = Math.max(0, (this.history.get(topic)?.length ?? 0) - 1);
      const check = () => {
        const l = this.history.get(topic) ?? [];
        for (; seenIdx < l.length; seenIdx++) {
          const n = num(l[seenIdx]!.value);
          if (pred(n)) { clearTimeout(t); res(n); return; }
        }
        this.waiters.push(check);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        const seen = (this.history.get(topic) ?? []).filter((u) => u.at >= since - 1500).map((u) => u.value);
        rej(new Error(`${topic}: ${what} not seen within ${timeout} ms; recent values: [${seen.join(', ')}]`));
      }, timeout);
      check();
    });
  }

  /** The latest value (waiting for a first one). */
  current(topic: string, timeout = 3500): Promise<number> {
    return this.until(topic, () => true, timeout, 'a value');
  }

  /**
   * A value that has not changed for over one publication period (lingering connections of
   * earlier tests settled; Mosquitto 2.0.11 with sys_interval 1 publishes about every 2 s).
   */
  async stable(topic: string, timeout = 10_000): Promise<number> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const v = await this.current(topic);
      await sleep(isMosquitto ? 2200 : 1200);
      const w = await this.current(topic);
      if (v === w) return w;
      if (Date.now() > deadline) throw new Error(`${topic} did not settle within ${timeout} ms (last ${v} → ${w})`);
    }
  }
}

/** Leading number of a $SYS payload ("12 seconds" → 12). */
function num(s: string): number {
  const m = /^\s*(-?\d+(?:\.\d+)?)/.exec(s);
  return m ? Number(m[1]) : NaN;
}

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards, sysInterval: 1 });
  let watcherClient: MqttClient;
  let sys: SysWatcher;
  before(async () => {
    watcherClient = await connect(h.url, { version });
    sys = new SysWatcher(watcherClient);
    await subscribe(watcherClient, '$SYS/#', { qos: 0 });
  });
  after(() => { watcherClient?.end(true); });

  /** Four clients connected one after another (one per shard with 4 shards). */
  async function four(): Promise<MqttClient[]> {
    const cs: MqttClient[] = [];
    for (let i = 0; i < 4; i++) cs.push(await connect(h.url, { version }));
    return cs;
  }

  test('version and uptime: published every --sys-interval (1 s) and retained; uptime grows', async () => {
    const late = await connect(h.url, { version });
    try {
      const col = collect(late);
      await subscribe(late, [`${SYS}version`, `${SYS}uptime`], { qos: 0 });
      const [first] = await col.waitFor(1, 3000);
      assert.equal(first!.packet.retain, true, 'a new subscriber first gets the retained value');
      const ups = await col.waitFor(3, 5000, (m) => m.topic === `${SYS}uptime`);
      const live = ups.filter((m) => !m.packet.retain);
      assert.ok(live.length >= 2, `periodic (non-retained) uptime updates: ${live.length}`);
      for (let i = 1; i < live.length; i++) {
        const gap = live[i]!.at - live[i - 1]!.at;
        // 1 s interval; up to 2.2 s tolerated (Mosquitto 2.0.11 with sys_interval 1 publishes every ~2 s).
        assert.ok(gap >= 500 && gap <= 2200, `gap between uptime updates: ${gap} ms (interval 1 s)`);
        assert.ok(num(live[i]!.payload.toString()) >= num(live[i - 1]!.payload.toString()), 'uptime must not decrease');
      }
      const u0 = num(ups[0]!.payload.toString());
      const uN = num(ups[ups.length - 1]!.payload.toString());
      assert.ok(Number.isFinite(u0) && uN > u0, `uptime grows: ${u0} → ${uN}`);
      const version = col.messages.find((m) => m.topic === `${SYS}version`);
      assert.ok(version && version.payload.length > 0, 'version is a non-empty string');
    } finally { await endAll([late]); }
  });

  test('clients/active counts connections on every shard; clients/maximum never below it', async () => {
    const base = await sys.stable(`${SYS}clients/active`);
    const cs = await four();
    let peak: number;
    try {
      peak = await sys.until(`${SYS}clients/active`, (n) => n >= base + 4, 4000, `active >= ${base} + 4`);
      await sys.until(`${SYS}clients/maximum`, (n) => n >= peak, 3500, `maximum >= ${peak}`);
    } finally { await endAll(cs); }
    await sys.until(`${SYS}clients/active`, (n) => n <= peak - 4, 4000, `active back to <= ${peak} - 4 after disconnects`);
    await sys.until(`${SYS}clients/maximum`, (n) => n >= peak, 3500, `maximum stays >= ${peak}`);
  });

  test('messages/received and messages/sent count PUBLISHes from every shard', async () => {
    const topic = uid('sysmsg');
    const sub = await connect(h.url, { version });
    const pubs = await four();
    try {
      const col = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const r0 = await sys.current(`${SYS}messages/received`);
      const s0 = await sys.current(`${SYS}messages/sent`);
      await Promise.all(pubs.flatMap((p, i) => Array.from({ length: 10 }, (_, j) => publish(p, topic, `${i}-${j}`, { qos: 1 }))));
      await col.waitFor(40, 5000);
      await sys.until(`${SYS}messages/received`, (n) => n >= r0 + 40, 4000, `received >= ${r0} + 40`);
      await sys.until(`${SYS}messages/sent`, (n) => n >= s0 + 40, 4000, `sent >= ${s0} + 40`);
    } finally { await endAll([sub, ...pubs]); }
  });

  test('bytes/received and bytes/sent ($SYS/broker/bytes/…) count traffic on every shard', async () => {
    const topic = uid('sysbytes');
    const sub = await connect(h.url, { version });
    const pubs = await four();
    try {
      const col = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const r0 = await sys.current(`${SYS}bytes/received`);
      const s0 = await sys.current(`${SYS}bytes/sent`);
      const payload = Buffer.alloc(1000, 0x42);
      await Promise.all(pubs.flatMap((p) => Array.from({ length: 10 }, () => publish(p, topic, payload, { qos: 1 }))));
      await col.waitFor(40, 5000);
      await sys.until(`${SYS}bytes/received`, (n) => n >= r0 + 40_000, 4000, `bytes received >= ${r0} + 40000`);
      await sys.until(`${SYS}bytes/sent`, (n) => n >= s0 + 40_000, 4000, `bytes sent >= ${s0} + 40000`);
    } finally { await endAll([sub, ...pubs]); }
  });

  test('subscriptions/count counts subscriptions on every shard and drops on unsubscribe', async () => {
    const base = await sys.stable(`${SYS}subscriptions/count`);
    const cs = await four();
    try {
      const filters = cs.map(() => [uid('sc-a'), `${uid('sc-b')}/#`]);
      for (const [i, c] of cs.entries()) await subscribe(c, filters[i]!, { qos: 0 });
      const peak = await sys.until(`${SYS}subscriptions/count`, (n) => n >= base + 8, 4000, `count >= ${base} + 8`);
      for (const [i, c] of cs.entries()) await unsubscribe(c, filters[i]!);
      await sys.until(`${SYS}subscriptions/count`, (n) => n <= peak - 8, 4000, `count <= ${peak} - 8 after unsubscribing`);
    } finally { await endAll(cs); }
  });

  test('retained messages/count counts retained messages set from every shard and drops when cleared', async () => {
    const base = await sys.stable(`${SYS}retained messages/count`);
    const cs = await four();
    const topics = cs.map(() => uid('sysret'));
    try {
      await Promise.all(cs.map((c, i) => publish(c, topics[i]!, 'r', { qos: 1, retain: true })));
      const peak = await sys.until(`${SYS}retained messages/count`, (n) => n >= base + 4, 4000, `count >= ${base} + 4`);
      await Promise.all(cs.map((c, i) => publish(c, topics[i]!, '', { qos: 1, retain: true })));
      await sys.until(`${SYS}retained messages/count`, (n) => n <= peak - 4, 4000, `count <= ${peak} - 4 after clearing`);
    } finally { await endAll(cs); }
  });

  test('messages/per-sec reflects the current inbound rate from every shard', shoalOnly('Mosquitto has no $SYS/broker/messages/per-sec'), async () => {
    const topic = uid('rate');
    const cs = await four();
    try {
      await sys.stable(`${SYS}messages/per-sec`);
      // ~4 × 100 msg/s for 2.5 s.
      const stop = Date.now() + 2500;
      const pumps = cs.map(async (c, i) => {
        while (Date.now() < stop) {
          for (let k = 0; k < 10; k++) c.publish(topic, `${i}`, { qos: 0 });
          await sleep(100);
        }
      });
      const during = sys.until(`${SYS}messages/per-sec`, (n) => n >= 150, 3500, 'per-sec >= 150 while 4 clients send ~400 msg/s');
      await Promise.all(pumps);
      const seen = await during;
      assert.ok(seen <= 2000, `per-sec ${seen} is far above the ~400 msg/s sent`);
      await sys.until(`${SYS}messages/per-sec`, (n) => n < 50, 4000, 'per-sec falls back once the clients stop');
    } finally { await endAll(cs); }
  });
});

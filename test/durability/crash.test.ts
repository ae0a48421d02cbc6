// Crash safety (issue #5): the broker is killed with SIGKILL in the middle of a QoS 1 and a
// QoS 2 stream, with persistent subscribers online and offline on different shards, then
// restarted on the same data directory. Every message whose PUBACK / PUBREC the publisher got
// must reach every subscriber: QoS 1 at least once, QoS 2 exactly once (counted the way a
// receiver does: a PUBLISH whose packet id awaits PUBREL is a duplicate, not a new message).
// The retained message and both sessions must be back too. Several kill points.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';

const KILL_POINTS = [40, 300, 1200]; // QoS 1 acks received before the SIGKILL
const WINDOW = 40;                   // unacknowledged publishes per publisher
const TOPIC = 'crash/stream';

type Packet = mqttPacket.Packet;

/** A small MQTT client on mqtt-packet that keeps its receiver state where the test can see it. */
class Client {
  readonly socket: net.Socket;
  readonly version: 4 | 5;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly waiters: Array<{ cmd: string; resolve: (p: Packet) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  onPacket: (p: Packet) => void = () => {};
  closed = false;

  private constructor(socket: net.Socket, version: 4 | 5) {
    this.socket = socket;
    this.version = version;
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      const i = this.waiters.findIndex((w) => w.cmd === p.cmd);
      if (i >= 0) { const [w] = this.waiters.splice(i, 1); clearTimeout(w!.timer); w!.resolve(p); return; }
      this.onPacket(p);
    });
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(new Error(`closed while waiting for ${w.cmd}`)); }
    });
  }

  /** `onPacket` is installed before CONNECT: what the broker resends right after CONNACK may share its TCP segment. */
  static async connect(port: number, clientId: string, opts: { version?: 4 | 5; clean?: boolean; onPacket?: (c: Client, p: Packet) => void } = {}): Promise<{ c: Client; present: boolean }> {
    const version = opts.version ?? 4;
    const socket = await new Promise<net.Socket>((res, rej) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => res(s));
      s.once('error', rej);
    });
    socket.setNoDelay(true);
    const c = new Client(socket, version);
    const on = opts.onPacket;
    if (on) c.onPacket = (p) => on(c, p);
    const clean = opts.clean ?? true;
    const connack = c.expect('connack');
    c.send({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean, keepalive: 0, clientId,
      ...(version === 5 && !clean ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    } as mqttPacket.IConnectPacket);
    const ack = await connack as mqttPacket.IConnackPacket;
    const code = ack.reasonCode ?? ack.returnCode ?? 0;
    if (code !== 0) throw new Error(`CONNACK ${code} for ${clientId}`);
    return { c, present: ack.sessionPresent };
  }

  send(p: Packet): void {
    if (!this.closed) this.socket.write(mqttPacket.generate(p, { protocolVersion: this.version }));
  }

  expect(cmd: string, ms = 10_000): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${cmd}`)), ms);
      this.waiters.push({ cmd, resolve, reject, timer });
    });
  }

  async subscribe(filter: string, qos: 0 | 1 | 2): Promise<void> {
    const ack = this.expect('suback');
    this.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as mqttPacket.ISubscribePacket);
    const granted = (await ack as mqttPacket.ISubackPacket).granted;
    assert.equal(granted[0], qos, `SUBACK for ${filter}`);
  }

  destroy(): void { this.socket.destroy(); }
}

/**
 * A persistent subscriber's application view: how often each payload was delivered. Its QoS 2
 * receiver state (ids awaiting PUBREL) outlives its connections, as a real client's must.
 */
class Subscriber {
  readonly clientId: string;
  readonly counts = new Map<string, number>();
  private readonly awaitingRel = new Set<number>();
  c: Client | null = null;

  constructor(clientId: string) { this.clientId = clientId; }

  async connect(port: number): Promise<boolean> {
    const { c, present } = await Client.connect(port, this.clientId, { clean: false, onPacket: (c, p) => this.onPacket(c, p) });
    this.c = c;
    return present;
  }

  private onPacket(c: Client, p: Packet): void {
    if (p.cmd === 'publish') {
      const id = p.messageId!;
      const key = p.payload.toString();
      if (p.qos === 2) {
        // A PUBLISH whose id awaits PUBREL is the same message again [MQTT-4.3.3-9].
        if (!this.awaitingRel.has(id)) { this.awaitingRel.add(id); this.count(key); }
        c.send({ cmd: 'pubrec', messageId: id });
      } else {
        this.count(key);
        if (p.qos === 1) c.send({ cmd: 'puback', messageId: id });
      }
    } else if (p.cmd === 'pubrel') {
      this.awaitingRel.delete(p.messageId!);
      c.send({ cmd: 'pubcomp', messageId: p.messageId! });
    }
  }

  private count(key: string): void { this.counts.set(key, (this.counts.get(key) ?? 0) + 1); }
}

/** Publishes `prefix-N` with QoS 1 or 2 as fast as a window of WINDOW allows; records what was acknowledged. */
class Publisher {
  readonly acked = new Set<string>();
  private next = 0;
  private stopped = false;
  private readonly c: Client;
  private readonly qos: 1 | 2;
  private readonly prefix: string;
  private readonly pending = new Map<number, string>();
  private nextId = 1;

  constructor(c: Client, qos: 1 | 2, prefix: string) {
    this.c = c;
    this.qos = qos;
    this.prefix = prefix;
    c.onPacket = (p) => {
      if (p.cmd === 'puback' || p.cmd === 'pubrec') {
        const key = this.pending.get(p.messageId!);
        if (key === undefined) return;
        const rc = (p as mqttPacket.IPubackPacket).reasonCode ?? 0;
        if (rc < 0x80) this.acked.add(key);
        if (p.cmd === 'pubrec' && rc < 0x80) { c.send({ cmd: 'pubrel', messageId: p.messageId! }); return; }
        this.pending.delete(p.messageId!);
        this.fill();
      } else if (p.cmd === 'pubcomp') {
        this.pending.delete(p.messageId!);
        this.fill();
      }
    };
  }

  start(): void { this.fill(); }
  stop(): void { this.stopped = true; }

  private fill(): void {
    while (!this.stopped && !this.c.closed && this.pending.size < WINDOW) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      const key = `${this.prefix}-${this.next++}`;
      this.pending.set(id, key);
      this.c.send({ cmd: 'publish', topic: TOPIC, payload: Buffer.from(key), qos: this.qos, retain: false, dup: false, messageId: id } as mqttPacket.IPublishPacket);
    }
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('crash safety: SIGKILL under a QoS 1 + QoS 2 stream, restart on the same data directory', { skip: isMosquitto ? 'Shoal persistence' : undefined }, () => {
  for (const killAfter of KILL_POINTS) {
    test(`killed after ${killAfter} QoS 1 acks: every acknowledged message reaches every persistent subscriber`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shoal-crash-'));
      const opts = { shards: 2, persistence: 'durable' as const, dataDir: dir };
      let b: Broker | undefined;
      const clients: Client[] = [];
      try {
        b = await startBroker(opts);
        // Placement is by fewest live connections: the two subscribers land on different shards.
        const online = new Subscriber(`crash-on-${killAfter}`);
        const offline = new Subscriber(`crash-off-${killAfter}`);
        await online.connect(b.port);
        await offline.connect(b.port);
        await online.c!.subscribe('crash/#', 2);
        await offline.c!.subscribe('crash/#', 2);
        offline.c!.destroy();
        await until(() => offline.c!.closed, 2000);

        const { c: rp } = await Client.connect(b.port, 'crash-retainer', { version: 5 });
        clients.push(rp);
        const rack = rp.expect('puback');
        rp.send({ cmd: 'publish', topic: 'crash/retained', payload: Buffer.from('kept'), qos: 1, retain: true, dup: false, messageId: 1 } as mqttPacket.IPublishPacket);
        await rack;

        const { c: c1 } = await Client.connect(b.port, `crash-p1-${killAfter}`, { version: 5 });
        const { c: c2 } = await Client.connect(b.port, `crash-p2-${killAfter}`, { version: 4 });
        clients.push(c1, c2);
        const p1 = new Publisher(c1, 1, 'q1');
        const p2 = new Publisher(c2, 2, 'q2');
        p1.start();
        p2.start();
        assert.ok(await until(() => p1.acked.size >= killAfter, 30_000), `only ${p1.acked.size} QoS 1 acks before the deadline`);
        await b.kill('SIGKILL');
        // Acks the broker wrote before it died still arrive: read until the sockets close.
        await until(() => c1.closed && c2.closed, 5000);
        p1.stop();
        p2.stop();
        // What the publishers know now is final: nothing acknowledged after the kill counts.
        const acked1 = [...p1.acked];
        const acked2 = [...p2.acked];
        online.c!.destroy();
        for (const c of clients) c.destroy();
        clients.length = 0;

        b = await startBroker(opts);
        const problems: string[] = [];
        if (!(await online.connect(b.port))) problems.push('online subscriber: Session Present 0 after restart');
        if (!(await offline.connect(b.port))) problems.push('offline subscriber: Session Present 0 after restart');
        const allThere = (s: Subscriber): boolean => acked1.every((k) => s.counts.has(k)) && acked2.every((k) => s.counts.has(k));
        await until(() => allThere(online) && allThere(offline), 20_000);
        for (const s of [online, offline]) {
          const lost1 = acked1.filter((k) => !s.counts.has(k));
          const lost2 = acked2.filter((k) => !s.counts.has(k));
          const dup2 = [...s.counts].filter(([k, n]) => k.startsWith('q2-') && n > 1).map(([k]) => k);
          if (lost1.length) problems.push(`${s.clientId}: ${lost1.length}/${acked1.length} acknowledged QoS 1 messages lost, e.g. ${lost1.slice(0, 5).join(', ')}`);
          if (lost2.length) problems.push(`${s.clientId}: ${lost2.length}/${acked2.length} acknowledged QoS 2 messages lost, e.g. ${lost2.slice(0, 5).join(', ')}`);
          if (dup2.length) problems.push(`${s.clientId}: ${dup2.length} QoS 2 messages delivered more than once, e.g. ${dup2.slice(0, 5).join(', ')}`);
        }
        // The retained message is back.
        const { c: rs } = await Client.connect(b.port, 'crash-retained-check');
        clients.push(rs);
        const got = rs.expect('publish', 5000);
        await rs.subscribe('crash/retained', 1);
        try {
          const r = await got as mqttPacket.IPublishPacket;
          if (r.payload.toString() !== 'kept' || !r.retain) problems.push(`retained message changed: ${r.payload.toString()}`);
        } catch { problems.push('the retained message (PUBACKed before the kill) was lost'); }
        assert.deepEqual(problems, [], `kill after ${killAfter} QoS 1 acks (${acked1.length} QoS 1 and ${acked2.length} QoS 2 acknowledged)`);
        online.c!.destroy();
        offline.c!.destroy();
        assert.equal(await b.stop(), 0, 'graceful stop after the check');
      } finally {
        for (const c of clients) c.destroy();
        if (b) await b.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

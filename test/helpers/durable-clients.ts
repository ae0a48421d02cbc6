// Raw MQTT clients for the durability tests: a client on mqtt-packet whose receiver state the
// test can see, a persistent subscriber that counts deliveries as an application does (QoS 2
// duplicates recognised by packet id), and a windowed publisher that records what was acknowledged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { Broker } from './broker.ts';

export const WINDOW = 40;                   // unacknowledged publishes per publisher

export type Packet = mqttPacket.Packet;

/** A small MQTT client on mqtt-packet that keeps its receiver state where the test can see it. */
export class Client {
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
export class Subscriber {
  readonly clientId: string;
  readonly counts = new Map<string, number>();
  private readonly awaitingRel = new Set<number>();
  c: Client | null = null;
  /** Ignores what arrives (no count, no ack): what the broker sent stays unacknowledged, so only its store keeps it. */
  deaf = false;

  constructor(clientId: string) { this.clientId = clientId; }

  async connect(port: number): Promise<boolean> {
    const { c, present } = await Client.connect(port, this.clientId, { clean: false, onPacket: (c, p) => this.onPacket(c, p) });
    this.c = c;
    return present;
  }

  /** connect, retried until the broker answers (a restarted shard that does not yet): Session Present. */
  async reconnect(port: number, ms = 15_000): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      try { return await this.connect(port); } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private onPacket(c: Client, p: Packet): void {
    if (this.deaf) return;
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

/** Publishes `prefix-N` to `topic` with QoS 1 or 2 as fast as a window of WINDOW allows; records what was acknowledged. */
export class Publisher {
  readonly acked = new Set<string>();
  private next = 0;
  private stopped = false;
  private readonly c: Client;
  private readonly qos: 1 | 2;
  private readonly prefix: string;
  private readonly topic: string;
  private readonly pending = new Map<number, string>();
  private nextId = 1;
  /** Called on each acknowledgement, as it arrives. */
  onAck: () => void = () => {};

  constructor(c: Client, qos: 1 | 2, prefix: string, topic: string) {
    this.c = c;
    this.qos = qos;
    this.prefix = prefix;
    this.topic = topic;
    c.onPacket = (p) => {
      if (p.cmd === 'puback' || p.cmd === 'pubrec') {
        const key = this.pending.get(p.messageId!);
        if (key === undefined) return;
        const rc = (p as mqttPacket.IPubackPacket).reasonCode ?? 0;
        if (rc < 0x80) { this.acked.add(key); this.onAck(); }
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
      this.c.send({ cmd: 'publish', topic: this.topic, payload: Buffer.from(key), qos: this.qos, retain: false, dup: false, messageId: id } as mqttPacket.IPublishPacket);
    }
  }
}

export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}


/**
 * Runs `fn` with a fresh temporary data directory and a slot for the broker it starts (restarts
 * replace it); afterwards the broker in the slot is killed and the directory removed.
 */
export async function onDataDir(prefix: string, fn: (dir: string, live: { b?: Broker }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const live: { b?: Broker } = {};
  try {
    await fn(dir, live);
  } finally {
    if (live.b) await live.b.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

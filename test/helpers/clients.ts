// MQTT.js (an independent client) wrapped in promises with timeouts, for black-box tests.
import mqtt from 'mqtt';
import type { MqttClient, IClientOptions, IClientPublishOptions, IClientSubscribeOptions, ISubscriptionGrant, Packet } from 'mqtt';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';

export type { MqttClient };
export type ProtocolVersion = 3 | 4 | 5;

let counter = 0;
/** A client id / topic segment unique to this process and call. */
export function uid(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reject with `what` after `ms` unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

/** Poll `cond` until true or fail after `ms` with `what`. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms: number, what: string, every = 25): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(every);
  }
}

export interface ConnectOptions extends IClientOptions {
  version?: ProtocolVersion;
  /** Connect timeout (ms), default 5000. */
  timeout?: number;
}

export interface Connected {
  client: MqttClient;
  connack: IConnackPacket;
}

/** Connect with MQTT.js; resolves on CONNACK 0, rejects on refusal, close, or timeout. No auto-reconnect. */
export function connectClient(url: string, opts: ConnectOptions = {}): Promise<Connected> {
  const { version = 4, timeout = 5000, ...rest } = opts;
  const o: IClientOptions = {
    protocolVersion: version,
    clientId: uid('c'),
    reconnectPeriod: 0,
    connectTimeout: timeout,
    keepalive: 30,
    ...rest,
  };
  if (version === 3) o.protocolId = 'MQIsdp';
  return new Promise((res, rej) => {
    const client = mqtt.connect(url, o);
    const t = setTimeout(() => { fail(new Error(`MQTT.js connect to ${url} (${o.clientId}) timed out after ${timeout} ms`)); }, timeout + 500);
    const fail = (e: Error) => {
      clearTimeout(t);
      client.removeListener('connect', ok);
      client.end(true);
      rej(e);
    };
    const ok = (connack: IConnackPacket) => {
      clearTimeout(t);
      client.removeListener('error', fail);
      client.removeListener('close', onClose);
      client.on('error', () => { /* surfaced through test assertions, not crashes */ });
      res({ client, connack });
    };
    const onClose = () => fail(new Error(`connection closed before CONNACK (${o.clientId})`));
    client.once('connect', ok);
    client.once('error', fail);
    client.once('close', onClose);
  });
}

/** Connect and return only the client. */
export async function connect(url: string, opts: ConnectOptions = {}): Promise<MqttClient> {
  return (await connectClient(url, opts)).client;
}

export interface Msg { topic: string; payload: Buffer; packet: IPublishPacket; at: number }

/** Record every PUBLISH a client receives; wait for counts with timeouts. */
export class Collector {
  readonly messages: Msg[] = [];
  private waiters: Array<() => void> = [];
  private readonly client: MqttClient;
  private readonly onMsg: (topic: string, payload: Buffer, packet: IPublishPacket) => void;

  constructor(client: MqttClient, filter: (topic: string) => boolean = () => true) {
    this.client = client;
    this.onMsg = (topic, payload, packet) => {
      if (!filter(topic)) return;
      this.messages.push({ topic, payload, packet, at: Date.now() });
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    };
    client.on('message', this.onMsg);
  }

  /** Wait until at least n messages (matching `pred`) were collected. */
  waitFor(n: number, timeout = 5000, pred: (m: Msg) => boolean = () => true): Promise<Msg[]> {
    return new Promise((res, rej) => {
      const check = () => {
        const got = this.messages.filter(pred);
        if (got.length >= n) { clearTimeout(t); res(got); return; }
        this.waiters.push(check);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        const got = this.messages.filter(pred);
        rej(new Error(`timed out after ${timeout} ms waiting for ${n} message(s), got ${got.length}: ${got.slice(0, 10).map((m) => `${m.topic}=${m.payload.toString().slice(0, 30)}`).join(', ')}`));
      }, timeout);
      check();
    });
  }

  topics(): string[] { return this.messages.map((m) => m.topic); }
  payloads(): string[] { return this.messages.map((m) => m.payload.toString()); }
  clear(): void { this.messages.length = 0; }
  stop(): void { this.client.removeListener('message', this.onMsg); }
}

export function collect(client: MqttClient, filter?: (topic: string) => boolean): Collector {
  return new Collector(client, filter);
}

/** Subscribe and return the grants (SUBACK codes), with a timeout. */
export function subscribe(client: MqttClient, topic: string | string[], opts: IClientSubscribeOptions = { qos: 0 }, timeout = 5000): Promise<ISubscriptionGrant[]> {
  return withTimeout(client.subscribeAsync(topic, opts), timeout, `SUBACK for ${String(topic)}`);
}

export function unsubscribe(client: MqttClient, topic: string | string[], timeout = 5000): Promise<Packet | undefined> {
  return withTimeout(client.unsubscribeAsync(topic), timeout, `UNSUBACK for ${String(topic)}`);
}

/** Publish and wait for completion of the QoS flow (PUBACK / PUBCOMP). */
export function publish(client: MqttClient, topic: string, payload: string | Buffer, opts: IClientPublishOptions = { qos: 0 }, timeout = 5000): Promise<Packet | undefined> {
  return withTimeout(client.publishAsync(topic, payload, opts), timeout, `publish to ${topic} (qos ${opts.qos ?? 0})`);
}

/** Polite close (DISCONNECT), bounded in time; falls back to force. */
export async function end(client: MqttClient | undefined, timeout = 3000): Promise<void> {
  if (!client) return;
  try {
    await withTimeout(client.endAsync(), timeout, 'client end');
  } catch {
    client.end(true);
  }
}

/** End many clients, ignoring ones already gone. */
export async function endAll(clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => end(c)));
}

/** One subscriber/publisher round trip proving a broker still serves clients. */
export async function roundTrip(url: string, version: ProtocolVersion = 4, timeout = 5000): Promise<void> {
  const topic = uid('alive');
  const sub = await connect(url, { version, timeout });
  const pub = await connect(url, { version, timeout });
  try {
    const col = collect(sub);
    await subscribe(sub, topic, { qos: 1 }, timeout);
    await publish(pub, topic, 'ping', { qos: 1 }, timeout);
    await col.waitFor(1, timeout);
  } finally {
    await endAll([sub, pub]);
  }
}

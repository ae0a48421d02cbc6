// What the bridge tests share: Debian's mosquitto on a port of our choosing (so it can be killed
// and started again on the same port, with its persistence directory), and a Shoal whose config
// file holds a bridges: list.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOSQUITTO_BIN, startBroker, type Broker } from '../helpers/broker.ts';
import { exited, stopChild } from '../helpers/child-process.ts';
import { freePort, waitListening } from '../helpers/ports.ts';
import mqtt, { type IPublishPacket } from 'mqtt';
import type { ClientInfo } from '../../src/shared/admin-query.ts';
import { request } from '../admin/helpers.ts';
import assert from 'node:assert/strict';
import { collect, connect, eventually, publish, sleep, subscribe, withTimeout, type MqttClient } from '../helpers/clients.ts';

export const mosquittoMissing = existsSync(MOSQUITTO_BIN) ? false : `needs Debian's mosquitto (${MOSQUITTO_BIN})`;

export function tempDir(prefix: string): string { return mkdtempSync(join(tmpdir(), prefix)); }

/** A mosquitto on `port` with persistence in `dir`; start() again after kill() keeps both. */
export class Mosquitto {
  readonly port: number;
  readonly dir: string;
  private proc: ChildProcess | null = null;
  private readonly extra: string[];
  stderr = '';

  constructor(port: number, dir: string, extra: string[] = []) {
    this.port = port;
    this.dir = dir;
    this.extra = extra;
    // mosquitto started as root runs as its own user, which must be able to write its store here.
    chmodSync(dir, 0o777);
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, [
      `listener ${this.port} 127.0.0.1`, 'allow_anonymous true',
      'persistence true', `persistence_location ${this.dir}/`, 'autosave_interval 1', 'autosave_on_changes true',
      'max_queued_messages 0', 'log_dest stderr', 'log_type error', 'log_type warning', ...this.extra,
    ].join('\n') + '\n');
    const p = this.proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-20000); });
    try {
      await waitListening(this.port, 10_000, 'mosquitto', () => exited(p));
    } catch (e) {
      await this.kill();
      throw new Error(`${(e as Error).message} (code ${p.exitCode}): ${this.stderr}`);
    }
  }

  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p !== null) await stopChild(p, { signal: sig });
  }

  async stop(): Promise<void> { await this.kill('SIGTERM'); rmSync(this.dir, { recursive: true, force: true }); }
}

export { freePort };

/** A Shoal with `yaml` (the bridges: list and anything else) as its config file. */
export async function startShoalWith(dir: string, yaml: string, opts: { shards?: number; persistence?: 'memory' | 'fast' | 'durable'; dataDir?: string; extraArgs?: string[] } = {}): Promise<Broker> {
  const file = join(dir, `shoal-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return startBroker({ shards: opts.shards ?? 2, persistence: opts.persistence ?? 'memory', ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), extraArgs: ['--config', file, ...(opts.extraArgs ?? [])] });
}

/** Resolves once Shoal's $SYS/broker/connection/<name>/state says `state`. */
export async function bridgeState(url: string, name: string, state: '1' | '0', ms = 15_000): Promise<void> {
  const c: MqttClient = await connect(url, { protocolVersion: 5 });
  try {
    const got = collect(c);
    await subscribe(c, `$SYS/broker/connection/${name}/state`);
    await eventually(() => got.messages.some((m) => m.payload.toString() === state) && got.messages.at(-1)!.payload.toString() === state, ms, `bridge ${name} state ${state}`);
  } finally {
    c.end(true);
  }
}

/** A mosquitto and a Shoal bridged to it by `yaml(mosquittoPort)`, bridge `m` connected. */
export async function bridgedPair(yaml: (port: number) => string, opts: { persistence?: 'memory' | 'fast' | 'durable'; extraArgs?: string[]; mosquitto?: string[] } = {}): Promise<{ mosq: Mosquitto; shoal: Broker; dir: string; restartShoal(sig?: NodeJS.Signals): Promise<Broker>; stop(): Promise<void> }> {
  const mosq = new Mosquitto(await freePort(), tempDir('shoal-bridge-mosq-'), opts.mosquitto);
  const dir = tempDir('shoal-bridge-');
  const start = (): Promise<Broker> => startShoalWith(dir, yaml(mosq.port), { persistence: opts.persistence ?? 'memory', dataDir: join(dir, 'data'), extraArgs: opts.extraArgs });
  await mosq.start();
  const pair = {
    mosq, dir, shoal: null as unknown as Broker,
    async restartShoal(sig: NodeJS.Signals = 'SIGKILL'): Promise<Broker> { await pair.shoal.kill(sig); return pair.shoal = await start(); },
    async stop(): Promise<void> { await pair.shoal?.stop(); await mosq.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  try {
    pair.shoal = await start();
    await bridgeState(pair.shoal.url, 'm', '1');
  } catch (err) {
    await pair.stop();
    throw err;
  }
  return pair;
}

/** A subscriber on mosquitto with a persistent session: it collects across mosquitto's restarts. */
export async function persistentSubscriber(url: string, id: string): Promise<{ client: MqttClient; seqs: number[] }> {
  // The listener is on before CONNACK: a resumed session's messages may come in the same read.
  const client = mqtt.connect(url, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 200, connectTimeout: 5000 });
  const seqs: number[] = [];
  client.on('message', (_t, payload) => seqs.push(Number(payload.toString())));
  try {
    await withTimeout(new Promise((r) => client.once('connect', r)), 10_000, `${id} connects to mosquitto`);
    await subscribe(client, 'stream/#', { qos: 1 });
  } catch (e) {
    client.end(true); // it reconnects every 200 ms: left alone it would keep the test process alive
    throw e;
  }
  return { client, seqs };
}

/**
 * A `both` rule between the brokers at `urlA` and `urlB`: one message published on each side
 * under `prefix` arrives once on both sides, and nothing comes back (an echo would be there
 * within the second waited).
 */
export async function crossesOnceEachWay(urlA: string, urlB: string, prefix: string, version: 4 | 5, clients: MqttClient[]): Promise<void> {
  const onA = await connect(urlA, { protocolVersion: version });
  const onB = await connect(urlB, { protocolVersion: version });
  clients.push(onA, onB);
  const mine = (t: string): boolean => t === `${prefix}/a` || t === `${prefix}/b`;
  const aGot = collect(onA, mine);
  const bGot = collect(onB, mine);
  await subscribe(onA, `${prefix}/#`, { qos: 1 });
  await subscribe(onB, `${prefix}/#`, { qos: 1 });
  await publish(onA, `${prefix}/a`, 'from a', { qos: 1 });
  await publish(onB, `${prefix}/b`, 'from b', { qos: 1 });
  await aGot.waitFor(2, 10_000);
  await bGot.waitFor(2, 10_000);
  await sleep(1000);
  const both = [`${prefix}/a`, `${prefix}/b`];
  assert.deepEqual(aGot.topics().sort(), both, 'the first broker: each message once');
  assert.deepEqual(bGot.topics().sort(), both, 'the second broker: each message once');
}

/** Crashes Shoal's shard `shard` (--test-hooks) through a client that landed on it (placement is least-loaded: a few tries). */
export async function crashShard(url: string, admin: string, shard: number, clients: MqttClient[]): Promise<void> {
  let crasher: MqttClient | null = null;
  for (let i = 0; i < 8 && crasher === null; i++) {
    const id = `crasher-${Math.random().toString(36).slice(2)}`;
    const c = await connect(url, { protocolVersion: 5, clientId: id, reconnectPeriod: 0 });
    clients.push(c);
    const info = (await request(`${admin}/api/v1/mqtt/clients/${id}`)).json() as ClientInfo;
    if (info.shard === shard) crasher = c;
  }
  assert.ok(crasher, `a client landed on shard ${shard}`);
  const closed = new Promise<void>((r) => crasher!.once('close', () => r()));
  crasher.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 } as Partial<IPublishPacket>);
  await withTimeout(closed, 10_000, 'the shard crashed (its client lost the connection)');
}

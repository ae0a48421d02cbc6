// Run a describe block for each protocol version and shard count, and share one broker per block.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startBroker, isMosquitto, type Broker, type BrokerOptions } from './broker.ts';

export interface Config { version: 4 | 5; shards: 1 | 4 }

export const versionName = (v: number): string => (v === 5 ? 'MQTT 5.0' : v === 3 ? 'MQTT 3.1' : 'MQTT 3.1.1');

/**
 * One describe block per (version, shards). Against Mosquitto the shard count means nothing,
 * so only shards = 1 runs there.
 */
export function forEachConfig(
  fn: (cfg: Config) => void,
  opts: { versions?: Array<4 | 5>; shards?: Array<1 | 4>; concurrency?: boolean | number } = {},
): void {
  const versions = opts.versions ?? [4, 5];
  const shardCounts = isMosquitto ? [1 as const] : (opts.shards ?? [1, 4]);
  for (const version of versions) {
    for (const shards of shardCounts) {
      const name = `${versionName(version)}, ${shards} shard${shards > 1 ? 's' : ''}`;
      describe(name, { concurrency: opts.concurrency ?? false }, () => fn({ version, shards }));
    }
  }
}

export interface BrokerHandle {
  readonly broker: Broker;
  readonly url: string;
  readonly port: number;
}

/**
 * Start one broker for the enclosing describe block (before) and stop it after. The after hook
 * asserts the broker was still alive and exited with code 0 on SIGTERM: a broker that crashed
 * during the block fails the block.
 */
export function useBroker(opts: BrokerOptions = {}): BrokerHandle {
  let b: Broker | undefined;
  before(async () => { b = await startBroker(opts); });
  after(async () => {
    if (!b) return;
    const wasAlive = b.alive();
    const preExit = b.proc.exitCode;
    const code = await b.stop();
    assert.ok(wasAlive, `broker died during the tests (exit ${preExit}, signal ${b.proc.signalCode})\nstderr:\n${b.stderr().slice(-3000)}`);
    assert.equal(code, 0, `broker exit code after SIGTERM\nstderr:\n${b.stderr().slice(-3000)}`);
  });
  const get = (): Broker => {
    if (!b) throw new Error('broker not started (before hook failed?)');
    return b;
  };
  return {
    get broker() { return get(); },
    get url() { return get().url; },
    get port() { return get().port; },
  };
}

let mosqCache: { ok: boolean; reason?: string } | undefined;
/** Are mosquitto_pub and mosquitto_sub on PATH? */
export function mosquittoAvailable(): { ok: boolean; reason?: string } {
  if (mosqCache) return mosqCache;
  const missing = ['mosquitto_pub', 'mosquitto_sub'].filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  mosqCache = missing.length ? { ok: false, reason: `${missing.join(', ')} not installed` } : { ok: true };
  return mosqCache;
}

/** Test options that skip a spec test only when running against Mosquitto, naming its deviation. */
export function mosquittoDeviates(what: string): { skip?: string } {
  return isMosquitto ? { skip: `mosquitto deviates: ${what}` } : {};
}

/** Test options for Shoal-only features (test hooks, Shoal's own $SYS topics). */
export function shoalOnly(what: string): { skip?: string } {
  return isMosquitto ? { skip: `Shoal only: ${what}` } : {};
}

// Eclipse Mosquitto (C, single-threaded), when installed. It cannot bind port 0 and print the
// port, so a free port is picked here and readiness is a TCP connect; a lost race for the
// port is retried with another.
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrokerHandle, BrokerLauncher } from './types.ts';
import { startChildBroker } from './child-broker.ts';
import { freePort } from './tcp.ts';

function findMosquitto(): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin']) {
    const candidate = path.join(dir, 'mosquitto');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The generated configuration. Every line but `listener` and `allow_anonymous` (both needed
 * to accept the tools at all) changes a default, for the reason beside it.
 */
export function mosquittoConfig(port: number, persistDir: string | null = null): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    // The other brokers run in memory too; no autosave file, no disk in the measurement.
    // mosquitto-persist: persistence on, Mosquitto's defaults otherwise (autosave every
    // 1800 s and at exit: a crash loses what changed since the last save).
    ...(persistDir === null ? ['persistence false'] : ['persistence true', `persistence_location ${persistDir}/`]),
    // Default 1000. Mosquitto 2 applies it to QoS 0 as well (packets waiting on a slow
    // socket), so a publisher bursting faster than its subscriber reads would see Mosquitto
    // drop messages that Shoal and Aedes deliver. A million is above any queue a bench run
    // builds, yet still a bound.
    'max_queued_messages 1000000',
    // Default false. Aedes runs with noDelay too; without it round-trip latency would
    // measure Nagle's algorithm rather than the broker.
    'set_tcp_nodelay true',
    // Default true. A log line per connect and disconnect costs time during connect storms
    // (`many`) that the other brokers do not spend.
    'connection_messages false',
    // Default: information and notice too. Errors and warnings still reach the output tail.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
  // max_inflight_messages stays at its default (20): it is Mosquitto's own flow control,
  // not a loss, and the tools' QoS 1/2 runs are what should show its effect.
}

const ATTEMPTS = 3;

export const mosquitto = mosquittoLauncher('mosquitto', false);
export const mosquittoPersist = mosquittoLauncher('mosquitto-persist', true);

function mosquittoLauncher(name: string, persist: boolean): BrokerLauncher {
  return {
    name,
    optIn: persist,
    unavailable: () => (findMosquitto() ? null : 'mosquitto not installed (not on PATH nor in /usr/sbin)'),
    async start({ startTimeoutMs = 20_000 }) {
      const binary = findMosquitto();
      if (!binary) throw new Error('mosquitto not installed');
      let lastError: unknown;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'mosquitto-bench-'));
        const port = await freePort();
        const configFile = path.join(dir, 'mosquitto.conf');
        writeFileSync(configFile, mosquittoConfig(port, persist ? dir : null));
        try {
          const handle: BrokerHandle = await startChildBroker({
            name,
            command: binary,
            args: ['-c', configFile],
            port,
            startTimeoutMs,
            cleanup: () => rmSync(dir, { recursive: true, force: true }),
          });
          return handle;
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError instanceof Error ? lastError : new Error(String(lastError));
    },
  };
}

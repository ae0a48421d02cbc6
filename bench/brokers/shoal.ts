// Shoal itself. `shoal` runs in-memory persistence so the comparison measures the data path,
// not disk; `shoal-fast` and `shoal-durable` (named in --brokers) run the on-disk modes on a
// fresh temporary data directory, for the side-by-side of docs/durability.md; `shoal-main-accept`
// accepts on the main thread and transfers (--accept main; `shoal` takes the platform default);
// `shoal-base` runs another checkout of Shoal (SHOAL_BASE_DIR, with its own node_modules), so two
// builds are measured in one run, rounds alternating, as a before/after of a change.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { BrokerLauncher } from './types.ts';
import { startChildBroker } from './child-broker.ts';
import { fromRoot } from './repo-root.ts';

const LISTENING = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/;

function shoalLauncher(name: string, persistence: 'memory' | 'fast' | 'durable', optIn: boolean, extra: string[] = [],
  root: () => string | null = fromRoot): BrokerLauncher {
  return {
    name,
    optIn,
    unavailable: () => {
      const dir = root();
      if (dir === null) return 'SHOAL_BASE_DIR is not set (a checkout of the build to compare against)';
      return existsSync(path.join(dir, 'bin', 'shoal.js')) ? null : `${path.join(dir, 'bin', 'shoal.js')} not found`;
    },
    async start({ shards, startTimeoutMs = 20_000 }) {
      const dir = root() as string;
      // A data dir is passed even in memory mode so a stray write can never land in ./data.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
      return startChildBroker({
        name,
        command: process.execPath,
        args: [path.join(dir, 'bin', 'shoal.js'), '--host', '127.0.0.1', '--port', '0', '--shards', String(shards),
          '--persistence', persistence, '--data-dir', dataDir, ...extra],
        cwd: dir,
        portFromLine: (line) => {
          const m = LISTENING.exec(line);
          return m ? Number(m[1]) : null;
        },
        startTimeoutMs,
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
      });
    },
  };
}

export const shoal = shoalLauncher('shoal', 'memory', false);
export const shoalFast = shoalLauncher('shoal-fast', 'fast', true);
export const shoalDurable = shoalLauncher('shoal-durable', 'durable', true);
/** In memory, main accepting and transferring each socket (`--accept main`). */
export const shoalMainAccept = shoalLauncher('shoal-main-accept', 'memory', true, ['--accept', 'main']);
/** Another build of Shoal (SHOAL_BASE_DIR), in memory like `shoal`: the "before" of an A/B. */
export const shoalBase = shoalLauncher('shoal-base', 'memory', true, [], () => process.env.SHOAL_BASE_DIR ?? null);

// Shoal itself. `shoal` runs in-memory persistence so the comparison measures the data path,
// not disk; `shoal-fast` and `shoal-durable` (named in --brokers) run the on-disk modes on a
// fresh temporary data directory, for the side-by-side of docs/durability.md; `shoal-main-accept`
// accepts on the main thread and transfers (--accept main; `shoal` takes the platform default);
// `shoal-scraped` is `shoal` with the admin port on and /metrics scraped every second.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { BrokerLauncher } from './types.ts';
import { startChildBroker } from './child-broker.ts';
import { fromRoot } from './repo-root.ts';
import { startScraper } from './scraper.ts';

const LISTENING = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/;
const ADMIN = /listening on .*(http:\/\/127\.0\.0\.1:\d+)/;

function shoalLauncher(name: string, persistence: 'memory' | 'fast' | 'durable', optIn: boolean, extra: string[] = [], scrapeMs = 0): BrokerLauncher {
  return {
    name,
    optIn,
    unavailable: () => (existsSync(fromRoot('bin', 'shoal.js')) ? null : 'bin/shoal.js not found'),
    async start({ shards, startTimeoutMs = 20_000 }) {
      // A data dir is passed even in memory mode so a stray write can never land in ./data.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
      let admin = '';
      const handle = await startChildBroker({
        name,
        command: process.execPath,
        args: [fromRoot('bin', 'shoal.js'), '--host', '127.0.0.1', '--port', '0', '--shards', String(shards),
          '--persistence', persistence, '--data-dir', dataDir, ...extra, ...(scrapeMs > 0 ? ['--http-port', '0'] : [])],
        cwd: fromRoot(),
        portFromLine: (line) => {
          const m = LISTENING.exec(line);
          if (m) admin = ADMIN.exec(line)?.[1] ?? '';
          return m ? Number(m[1]) : null;
        },
        startTimeoutMs,
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
      });
      if (scrapeMs === 0) return handle;
      if (admin === '') { await handle.stop(); throw new Error(`${name}: no admin URL in the start line`); }
      const scraper = startScraper(`${admin}/metrics`, scrapeMs);
      return { ...handle, stop: () => { scraper.stop(); return handle.stop(); } };
    },
  };
}

export const shoal = shoalLauncher('shoal', 'memory', false);
export const shoalFast = shoalLauncher('shoal-fast', 'fast', true);
export const shoalDurable = shoalLauncher('shoal-durable', 'durable', true);
/** In memory, main accepting and transferring each socket (`--accept main`). */
export const shoalMainAccept = shoalLauncher('shoal-main-accept', 'memory', true, ['--accept', 'main']);
/** In memory, admin port on, /metrics scraped every second during the run: the scrape cost. */
export const shoalScraped = shoalLauncher('shoal-scraped', 'memory', true, [], 1000);

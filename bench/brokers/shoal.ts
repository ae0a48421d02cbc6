// Shoal itself. `shoal` runs in-memory persistence so the comparison measures the data path,
// not disk; `shoal-fast` and `shoal-durable` (named in --brokers) run the on-disk modes on a
// fresh temporary data directory, for the side-by-side of docs/durability.md; `shoal-main-accept`
// accepts on the main thread and transfers (--accept main; `shoal` takes the platform default);
// `shoal-scraped` is `shoal` with the admin port on and /metrics scraped every second;
// `shoal-base` runs another checkout of Shoal (SHOAL_BASE_DIR, with its own node_modules), so two
// builds are measured in one run, rounds alternating, as a before/after of a change;
// `shoal-acl` is `shoal` with a 100-rule Mosquitto acl_file that grants the loadtest's topics
// (the ACL's cost: docs/security.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { BrokerLauncher } from './types.ts';
import { startChildBroker } from './child-broker.ts';
import { repoRoot } from './repo-root.ts';
import { startScraper } from './scraper.ts';

const LISTENING = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/;
const ADMIN = /listening on .*(http:\/\/127\.0\.0\.1:\d+)/;

interface Variant {
  persistence: 'memory' | 'fast' | 'durable';
  optIn: boolean;
  extra?: string[];
  /** > 0: admin port on and /metrics fetched this often during the run */
  scrapeMs?: number;
  /** the checkout to run; null = not configured (unavailable) */
  root?: () => string | null;
  /** files written into the data directory before the start, and the flags naming them */
  files?: (dataDir: string) => string[];
}

function shoalLauncher(name: string, v: Variant): BrokerLauncher {
  const { persistence, optIn, extra = [], scrapeMs = 0, root = () => repoRoot, files = () => [] } = v;
  return {
    name,
    optIn,
    unavailable: () => {
      const dir = root();
      if (dir === null) return 'SHOAL_BASE_DIR is not set (a checkout of the build to compare against)';
      return existsSync(path.join(dir, 'bin', 'shoal.js')) ? null : `${path.join(dir, 'bin', 'shoal.js')} not found`;
    },
    async start({ shards, admin: wantAdmin = false, startTimeoutMs = 20_000 }) {
      const dir = root() as string;
      // A data dir is passed even in memory mode so a stray write can never land in ./data.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
      let admin = '';
      const handle = await startChildBroker({
        name,
        command: process.execPath,
        args: [path.join(dir, 'bin', 'shoal.js'), '--host', '127.0.0.1', '--port', '0', '--shards', String(shards),
          '--persistence', persistence, '--data-dir', dataDir, ...extra, ...files(dataDir), ...(scrapeMs > 0 || wantAdmin ? ['--http-port', '0'] : [])],
        cwd: dir,
        // The broker refuses SHOAL_* variables it does not know; this one is the launcher's.
        env: { ...process.env, SHOAL_BASE_DIR: undefined },
        portFromLine: (line) => {
          const m = LISTENING.exec(line);
          if (m) admin = ADMIN.exec(line)?.[1] ?? '';
          return m ? Number(m[1]) : null;
        },
        startTimeoutMs,
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
      });
      if ((scrapeMs > 0 || wantAdmin) && admin === '') { await handle.stop(); throw new Error(`${name}: no admin URL in the start line`); }
      if (scrapeMs === 0) return wantAdmin ? { ...handle, admin } : handle;
      const scraper = startScraper(`${admin}/metrics`, scrapeMs);
      return { ...handle, ...(wantAdmin ? { admin } : {}), stop: () => { scraper.stop(); return handle.stop(); } };
    },
  };
}

export const shoal = shoalLauncher('shoal', { persistence: 'memory', optIn: false });
export const shoalFast = shoalLauncher('shoal-fast', { persistence: 'fast', optIn: true });
export const shoalDurable = shoalLauncher('shoal-durable', { persistence: 'durable', optIn: true });
/** In memory, main accepting and transferring each socket (`--accept main`). */
export const shoalMainAccept = shoalLauncher('shoal-main-accept', { persistence: 'memory', optIn: true, extra: ['--accept', 'main'] });
/** In memory, admin port on, /metrics scraped every second during the run: the scrape cost. */
export const shoalScraped = shoalLauncher('shoal-scraped', { persistence: 'memory', optIn: true, scrapeMs: 1000 });
/** In memory, with a hook whose onPublish does nothing: what the hook path costs (docs/hooks.md). */
export const shoalNoopHook = shoalLauncher('shoal-noop-hook', { persistence: 'memory', optIn: true, extra: ['--hook', path.join(repoRoot, 'bench', 'hooks', 'noop-publish.mjs')] });
/** Another build of Shoal (SHOAL_BASE_DIR), in memory like `shoal`: the "before" of an A/B. */
export const shoalBase = shoalLauncher('shoal-base', { persistence: 'memory', optIn: true, root: () => process.env.SHOAL_BASE_DIR ?? null });

/**
 * A 100-rule acl_file: the loadtest's clients are anonymous, so the anonymous section holds the
 * rules that grant its topics among 87 that match nothing it sends, and 10 patterns (which
 * every check also walks). `bench/secret/#` denied makes the fan-out mode's `bench/#`
 * subscriptions *partial*, so --fanout runs measure the cached delivery check too.
 */
export function loadtestAcl(): string {
  const lines = ['# 100 rules: bench:compare shoal-acl'];
  for (let i = 0; i < 87; i++) lines.push(`topic ${['read', 'write', 'readwrite', 'deny'][i % 4]} other/${i}/+/x`);
  lines.push('topic readwrite loadtest/#', 'topic readwrite bench/#', 'topic deny bench/secret/#');
  for (let i = 0; i < 10; i++) lines.push(`pattern readwrite devices/%c/${i}/#`);
  return lines.join('\n') + '\n';
}

/** In memory, with a 100-rule ACL file granting the loadtest's topics: ACL on vs `shoal` off. */
export const shoalAcl = shoalLauncher('shoal-acl', {
  persistence: 'memory', optIn: true,
  files: (dataDir) => { const f = path.join(dataDir, 'acl'); writeFileSync(f, loadtestAcl()); return ['--acl-file', f]; },
});

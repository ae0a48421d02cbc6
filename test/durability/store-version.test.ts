// The store's version marker: a data directory from an older Shoal is migrated in place (and
// keeps its data); one from a newer Shoal, or of a format nothing migrates from, is refused by
// the broker with one clear line and a non-zero exit, and left as it was.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { open } from 'lmdb';
import { LmdbStore } from '../../src/shared/store/lmdb-store.ts';
import { META_KEY } from '../../src/shared/store/keys.ts';
import { STORE_VERSION } from '../../src/shared/store/meta.ts';
import { tmpDir, removeDir } from '../store/fixtures/tmp.ts';
import { session } from '../store/fixtures/records.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { stopChild } from '../helpers/child-process.ts';

const SHOAL = join(import.meta.dirname, '..', '..', 'bin', 'shoal.js');

async function storeWithVersion(version: number): Promise<string> {
  const dir = tmpDir('version');
  const s = new LmdbStore({ persistence: 'durable', dataDir: dir });
  await s.open();
  await s.putSession(session('kept'));
  await s.close();
  const db = open(dir, { encoding: 'binary' });
  await db.put(META_KEY, Buffer.from(JSON.stringify({ format: 'shoal', version, createdAt: 1 })));
  await db.close();
  return dir;
}

function readMeta(dir: string): { version: number; migratedFrom?: number } {
  const db = open(dir, { encoding: 'binary', readOnly: true });
  try {
    return JSON.parse(Buffer.from(db.get(META_KEY) as Uint8Array).toString('utf8')) as { version: number; migratedFrom?: number };
  } finally {
    void db.close();
  }
}

/** Runs the broker on `dir` until it exits (it should, at once) and returns its exit code and stderr. */
function runBroker(dir: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SHOAL, '--host', '127.0.0.1', '--port', '0', '--shards', '2', '--data-dir', dir, '--persistence', 'durable'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`broker did not exit: ${stdout}`)); }, 15_000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stderr, stdout }); });
  });
}

describe('store version marker', { skip: isMosquitto ? 'Shoal store' : undefined }, () => {
  test(`a format 1 store is migrated to format ${STORE_VERSION} in place and keeps its sessions`, async () => {
    const dir = await storeWithVersion(1);
    try {
      const s = new LmdbStore({ persistence: 'durable', dataDir: dir });
      await s.open();
      assert.equal(s.migratedFrom, 1);
      assert.equal(s.getSession('kept')?.clientId, 'kept');
      await s.close();
      assert.deepEqual([readMeta(dir).version, readMeta(dir).migratedFrom], [STORE_VERSION, 1]);
      const again = new LmdbStore({ persistence: 'durable', dataDir: dir });
      await again.open();
      assert.equal(again.migratedFrom, null, 'migrated once');
      await again.close();
    } finally { removeDir(dir); }
  });

  for (const [what, version, pattern] of [
    ['newer', STORE_VERSION + 1, /newer Shoal \(store format \d+\).*STORE_VERSION/],
    ['unknown older', 0, /store format 0, which this Shoal cannot read or migrate.*STORE_VERSION/],
  ] as const) {
    test(`the broker refuses a store of a ${what} format: one line, exit code 1, directory untouched`, async () => {
      const dir = await storeWithVersion(version);
      try {
        const { code, stderr, stdout } = await runBroker(dir);
        assert.equal(code, 1, `exit code; stderr: ${stderr}`);
        assert.doesNotMatch(stdout, /listening/);
        const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
        assert.equal(lines.length, 1, `one line: ${stderr}`);
        assert.match(lines[0]!, pattern);
        assert.ok(lines[0]!.includes(dir), 'names the directory');
        assert.equal(readMeta(dir).version, version, 'marker left as it was');
      } finally { removeDir(dir); }
    });
  }

  test('the broker starts on a migrated store and says so once', async () => {
    const dir = await storeWithVersion(1);
    try {
      const p = spawn(process.execPath, [SHOAL, '--host', '127.0.0.1', '--port', '0', '--shards', '2', '--data-dir', dir, '--persistence', 'durable'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`not listening: ${stderr}`)), 15_000);
          p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (/listening/.test(stdout)) { clearTimeout(t); resolve(); } });
        });
      } finally {
        await stopChild(p);
      }
      assert.equal(stderr.split('\n').filter((l) => l.includes('store migrated from format 1')).length, 1, stderr);
      assert.equal(readMeta(dir).version, STORE_VERSION);
    } finally { removeDir(dir); }
  });
});

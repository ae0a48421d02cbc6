// Data directory rules: create what is missing, reopen what is ours, refuse anything else
// with a clear error, and never touch a directory we refuse. Several of these files would
// crash lmdb-js with SIGSEGV if they reached it: this process surviving is part of the test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { open } from 'lmdb';
import { LmdbStore } from '../../src/shared/store/lmdb-store.ts';
import { StoreError } from '../../src/shared/store/errors.ts';
import { META_KEY } from '../../src/shared/store/keys.ts';
import { STORE_VERSION } from '../../src/shared/store/meta.ts';
import { tmpDir, removeDir } from './fixtures/tmp.ts';
import { entry, session } from './fixtures/records.ts';

type Code = 'STORE_FOREIGN' | 'STORE_CORRUPT' | 'STORE_VERSION' | 'STORE_IO';

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    out[name] = fs.statSync(p).isFile() ? fs.readFileSync(p).toString('base64') : '<dir>';
  }
  return out;
}

/** Opening must fail with `code`, name the path, and leave the directory as it was (lock.mdb aside). */
async function refuses(dir: string, code: Code, opts: { lockMayAppear?: boolean } = {}): Promise<StoreError> {
  const before = snapshot(dir);
  const store = new LmdbStore({ persistence: 'durable', dataDir: dir });
  let caught: unknown;
  try {
    await store.open();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes(dir), `message names the path: ${caught.message}`);
  const after = snapshot(dir);
  if (opts.lockMayAppear) {
    // Reading the meta record means LMDB opened the env, which rewrites its lock file.
    delete before['lock.mdb'];
    delete after['lock.mdb'];
  }
  assert.deepEqual(after, before, 'directory left untouched');
  return caught;
}

async function makeStore(dir: string, fill = 0): Promise<void> {
  const s = new LmdbStore({ persistence: 'durable', dataDir: dir });
  await s.open();
  await s.putSession(session('c'));
  const puts: Promise<void>[] = [];
  for (let i = 0; i < fill; i++) puts.push(s.putOutbound('c', i, entry(i, { msg: { ...entry(i).msg, payload: randomBytes(300) } })));
  await Promise.all(puts);
  await s.close();
}

function patch(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
}

describe('LMDB data directory', () => {
  it('creates a missing directory, nested, and reopens it', async () => {
    const root = tmpDir('dir');
    const dir = path.join(root, 'a', 'b', 'data');
    await makeStore(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['data.mdb', 'lock.mdb']);
    const s = new LmdbStore({ persistence: 'fast', dataDir: dir });
    await s.open();
    assert.equal(s.getSession('c')?.clientId, 'c');
    await s.close();
    removeDir(root);
  });

  it('adopts an existing empty directory', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir);
    removeDir(dir);
  });

  it('refuses a directory holding other files (STORE_FOREIGN)', async () => {
    const dir = tmpDir('dir');
    fs.writeFileSync(path.join(dir, 'notes.txt'), randomBytes(100));
    const err = await refuses(dir, 'STORE_FOREIGN');
    assert.match(err.message, /notes\.txt/);
    assert.deepEqual(fs.readdirSync(dir), ['notes.txt']);
    removeDir(dir);
  });

  it('refuses a path that is a file (STORE_FOREIGN)', async () => {
    const root = tmpDir('dir');
    const file = path.join(root, 'data');
    fs.writeFileSync(file, 'x');
    const err = await new LmdbStore({ persistence: 'durable', dataDir: file }).open().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof StoreError && err.code === 'STORE_FOREIGN');
    removeDir(root);
  });

  it("refuses another program's LMDB environment (STORE_FOREIGN)", async () => {
    const dir = tmpDir('dir');
    const db = open(dir, {});
    await db.put('user:1', { name: 'someone else' });
    await db.close();
    await refuses(dir, 'STORE_FOREIGN', { lockMayAppear: true });
    removeDir(dir);
  });

  it('refuses a meta record of another format (STORE_FOREIGN)', async () => {
    const dir = tmpDir('dir');
    const db = open(dir, { encoding: 'binary' });
    await db.put(META_KEY, Buffer.from(JSON.stringify({ format: 'other', version: 1, createdAt: 0 })));
    await db.close();
    await refuses(dir, 'STORE_FOREIGN', { lockMayAppear: true });
    removeDir(dir);
  });

  it('refuses a store written by a newer Shoal (STORE_VERSION)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir);
    const db = open(dir, { encoding: 'binary' });
    await db.put(META_KEY, Buffer.from(JSON.stringify({ format: 'shoal', version: STORE_VERSION + 1, createdAt: Date.now() })));
    await db.close();
    const err = await refuses(dir, 'STORE_VERSION', { lockMayAppear: true });
    assert.match(err.message, /newer/);
    removeDir(dir);
  });

  it('refuses an unreadable meta record (STORE_CORRUPT)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir);
    const db = open(dir, { encoding: 'binary' });
    await db.put(META_KEY, Buffer.from('{"format":"shoal",'));
    await db.close();
    await refuses(dir, 'STORE_CORRUPT', { lockMayAppear: true });
    removeDir(dir);
  });

  it('refuses a data.mdb of random bytes, of zeros, or too short (STORE_CORRUPT)', async () => {
    for (const content of [randomBytes(20_000), Buffer.alloc(20_000), randomBytes(100)]) {
      const dir = tmpDir('dir');
      fs.writeFileSync(path.join(dir, 'data.mdb'), content);
      await refuses(dir, 'STORE_CORRUPT');
      removeDir(dir);
    }
  });

  it('refuses a data.mdb whose meta pages were overwritten (STORE_CORRUPT)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir, 200);
    patch(path.join(dir, 'data.mdb'), 0, randomBytes(8192));
    await refuses(dir, 'STORE_CORRUPT');
    removeDir(dir);
  });

  it('refuses a truncated data.mdb (STORE_CORRUPT)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir, 2000);
    const file = path.join(dir, 'data.mdb');
    assert.ok(fs.statSync(file).size > 100_000);
    fs.truncateSync(file, 3 * 4096);
    await refuses(dir, 'STORE_CORRUPT');
    removeDir(dir);
  });

  it('refuses an LMDB file of another data format version (STORE_VERSION)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir);
    const file = path.join(dir, 'data.mdb');
    const psize = fs.readFileSync(file).readUInt32LE(48);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(3);
    patch(file, 28, v);
    patch(file, psize + 28, v);
    await refuses(dir, 'STORE_VERSION');
    removeDir(dir);
  });

  it('refuses a lock.mdb that is not a file (STORE_CORRUPT)', async () => {
    const dir = tmpDir('dir');
    await makeStore(dir);
    fs.rmSync(path.join(dir, 'lock.mdb'));
    fs.mkdirSync(path.join(dir, 'lock.mdb'));
    await refuses(dir, 'STORE_CORRUPT');
    removeDir(dir);
  });

  it('treats an empty data.mdb as a store that never got started', async () => {
    const dir = tmpDir('dir');
    fs.writeFileSync(path.join(dir, 'data.mdb'), Buffer.alloc(0));
    await makeStore(dir);
    removeDir(dir);
  });
});

// Look at a data directory before lmdb-js does. lmdb-js 3.5 crashes the whole process
// (SIGSEGV) instead of throwing when LMDB refuses to open an environment: a random or
// zeroed data.mdb, a truncated one, a data format version mismatch, a directory named
// lock.mdb. A segfault would take every shard down with it and loop on restart, so anything
// LMDB would reject is turned into a StoreError here, with the path in the message.
//
// The checks read LMDB's two meta pages and the root pages they point at. They catch
// garbage, truncation and foreign files; they cannot vouch for pages deeper in the tree
// (LMDB keeps no checksums), so damage there still surfaces later, as an error or a crash.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError, StoreErrorCode } from './errors.ts';

export const DATA_FILE = 'data.mdb';
export const LOCK_FILE = 'lock.mdb';

// Layout of LMDB 0.9 (lmdb-js's fork) on a 64-bit build: a 24-byte page header, then MDB_meta.
const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const P_LEAF2 = 0x20;
const P_INVALID = 0xffff_ffff_ffff_ffffn;
const OFF_PGNO = 0;
const OFF_FLAGS = 18;
const OFF_MAGIC = 24;
const OFF_VERSION = 28;
const OFF_PSIZE = 48; // mm_dbs[FREE_DBI].md_pad
const OFF_FREE_ROOT = 88;
const OFF_MAIN_ROOT = 136;
const OFF_LAST_PG = 144;
const OFF_TXNID = 152;
const META_BYTES = 160;
const ARCH_32_BIT: readonly string[] = ['arm', 'ia32', 'mips', 'mipsel', 'ppc'];

/** Resolves when LMDB may open `dir`: it is missing (then created), empty, or an environment whose header reads sane. */
export async function checkDataDir(dir: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw ioError(`cannot stat data directory ${dir}`, err);
    try {
      makeDirs(dir);
    } catch (e) {
      throw ioError(`cannot create data directory ${dir}`, e);
    }
    return;
  }
  if (!st.isDirectory()) throw new StoreError(StoreErrorCode.FOREIGN, `data directory ${dir} exists but is not a directory`);
  access(dir, `data directory ${dir}`);

  const names = fs.readdirSync(dir);
  const dataPath = path.join(dir, DATA_FILE);
  const lockPath = path.join(dir, LOCK_FILE);
  if (names.includes(LOCK_FILE)) {
    if (!fs.statSync(lockPath).isFile()) throw new StoreError(StoreErrorCode.CORRUPT, `${lockPath} is not a regular file`);
    access(lockPath, lockPath);
  }
  if (!names.includes(DATA_FILE)) {
    const others = names.filter((n) => n !== LOCK_FILE);
    if (others.length === 0) return;
    const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, … (${others.length} entries)` : '');
    throw new StoreError(
      StoreErrorCode.FOREIGN,
      `data directory ${dir} is not empty and holds no Shoal store (found: ${shown}); ` +
        'point the data directory at an empty or new path, or remove what is there yourself',
    );
  }
  const dataStat = fs.statSync(dataPath);
  if (!dataStat.isFile()) throw new StoreError(StoreErrorCode.CORRUPT, `${dataPath} is not a regular file`);
  access(dataPath, dataPath);
  // LMDB writes its meta pages before anything else, so an empty file is a creation that
  // died first thing: there is nothing in it to lose, and LMDB initialises it like a new one.
  if (dataStat.size === 0) return;
  if (ARCH_32_BIT.includes(process.arch)) return; // the offsets below assume 64-bit page numbers

  // A writer in another thread or process may be committing while we read: the newest meta
  // page can be mid-write, and a root page we inspect can be recycled. Both settle quickly,
  // so a failed check is retried before it is believed.
  let problem: Problem | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50));
    problem = inspectHeader(dataPath);
    if (problem === null) return;
  }
  throw new StoreError(problem!.code, `${dataPath} ${problem!.what}; refusing to open it (the file is left untouched)`);
}

interface Problem { code: typeof StoreErrorCode.CORRUPT | typeof StoreErrorCode.VERSION; what: string }
const corrupt = (what: string): Problem => ({ code: StoreErrorCode.CORRUPT, what });

/** null when the header is sane, otherwise what is wrong with it. */
function inspectHeader(file: string): Problem | null {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const le = os.endianness() === 'LE';
    const read = (pos: number, n: number): Buffer | null => {
      if (pos + n > size) return null;
      const b = Buffer.alloc(n);
      return fs.readSync(fd, b, 0, n, pos) === n ? b : null;
    };
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));

    const metas: Buffer[] = [];
    let psize = 0;
    for (let i = 0; i < 2; i++) {
      const m = read(i * psize, META_BYTES);
      if (!m) return corrupt(`is too short to be an LMDB data file (${size} bytes)`);
      if (!(u16(m, OFF_FLAGS) & P_META) || u32(m, OFF_MAGIC) !== MDB_MAGIC) {
        return corrupt(`is not a valid LMDB data file (no meta page ${i})`);
      }
      const version = u32(m, OFF_VERSION) & 0xffff;
      if (version !== MDB_DATA_VERSION) {
        return { code: StoreErrorCode.VERSION, what: `has LMDB data format ${version}, this build reads ${MDB_DATA_VERSION}` };
      }
      if (i === 0) {
        psize = u32(m, OFF_PSIZE);
        if (psize < 512 || psize > 0x10000 || (psize & (psize - 1)) !== 0) return corrupt(`has an impossible page size ${psize}`);
      }
      metas.push(m);
    }
    const meta = u64(metas[1]!, OFF_TXNID) > u64(metas[0]!, OFF_TXNID) ? metas[1]! : metas[0]!;
    const lastPg = u64(meta, OFF_LAST_PG);
    for (const [label, off] of [['free-list', OFF_FREE_ROOT], ['main', OFF_MAIN_ROOT]] as const) {
      const root = u64(meta, off);
      if (root === P_INVALID) continue;
      if (root < 2n || root > lastPg) return corrupt(`points its ${label} tree at page ${root}, outside pages 2..${lastPg}`);
      const page = read(Number(root) * psize, 24);
      if (!page) return corrupt(`is truncated: ${label} root page ${root} lies beyond its ${size} bytes`);
      const flags = u16(page, OFF_FLAGS);
      // A recycled page keeps its own number and a valid type, so this holds under concurrent writers.
      if (u64(page, OFF_PGNO) !== root || !(flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_LEAF2))) {
        return corrupt(`has a damaged ${label} root page ${root}`);
      }
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function access(p: string, label: string): void {
  try {
    fs.accessSync(p, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw ioError(`${label} is not readable and writable by this process`, err);
  }
}

/**
 * mkdir -p one level at a time. Node's own `mkdirSync(dir, { recursive: true })` never returns
 * for a path under /proc (mkdir answers ENOENT for a parent that stat says exists, and Node
 * retries the parent forever), so a --data-dir such as /proc/nope hung the shard at start.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let p = path.resolve(dir);
  while (!fs.existsSync(p)) {
    missing.push(p);
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i]!);
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err; // another shard made it first
    }
  }
}

function errno(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function ioError(message: string, cause: unknown): StoreError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new StoreError(StoreErrorCode.IO, message + detail, { cause });
}

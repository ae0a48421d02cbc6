// The on-disk store: one LMDB environment per data directory, opened by every shard thread
// (lmdb-js shares the native environment between the threads of a process, and LMDB's lock
// file between processes).
//
// Group commit is lmdb-js's: every write issued in one event-loop turn goes into one
// transaction, and all their promises resolve together once it commits. The broker
// acknowledges a QoS 1/2 PUBLISH only after its put resolves, so in durable mode an
// acknowledged message has reached the disk, however many share the fsync.
//
// Modes (all threads of a process must use the same one: LMDB's sync flags are per
// environment, and lmdb-js hands every thread the environment the first one opened):
// - durable: LMDB's default synchronous commit, fsync before the promise resolves.
//   lmdb-js's overlappingSync is off: it resolves at commit and flushes afterwards, which is
//   what 'fast' is for, and it was no faster here once the wait for the flush is added back.
// - fast: noSync + noMetaSync. Commits reach the OS page cache before the promise resolves,
//   so a killed process loses nothing; an OS crash or power cut loses the last commits and,
//   on file systems that reorder writes, may damage the environment.
import { open } from 'lmdb';
import type { RootDatabase, RootDatabaseOptions } from 'lmdb';
import type { OutboundEntry, Store, StoredMessage, StoredSession, StoreStats } from './types.ts';
import { decodeMessage, decodeOutbound, decodeSession, encodeMessage, encodeOutbound, encodeSession } from './codec.ts';
import { StoreError, StoreErrorCode } from './errors.ts';
import { checkDataDir } from './env-check.ts';
import { checkMeta, encodeMeta, encodeMigratedMeta, STORE_VERSION } from './meta.ts';
import {
  type Key, META_KEY, bannedKey, bannedRange, inboundKey, inboundRange, lastNumber, outboundKey, outboundRange,
  retainedKey, retainedRange, sessionKey, sessionRange,
} from './keys.ts';

type Db = RootDatabase<Buffer, Key>;

export interface LmdbStoreOptions {
  persistence: 'durable' | 'fast';
  dataDir: string;
  mapSizeBytes?: number;
}

export class LmdbStore implements Store {
  readonly persistence: 'durable' | 'fast';
  readonly dataDir: string;
  private readonly mapSizeBytes: number | undefined;
  private db: Db | null = null;
  /** The store format this directory had when opened, if it was migrated to the current one. */
  migratedFrom: number | null = null;
  // lmdb-js returns one promise per transaction; wrapping it once (not once per write)
  // keeps a 1,000-write turn at one extra promise.
  private lastRaw: Promise<unknown> | null = null;
  private lastSettled: Promise<void> = Promise.resolve();

  constructor(opts: LmdbStoreOptions) {
    this.persistence = opts.persistence;
    this.dataDir = opts.dataDir;
    this.mapSizeBytes = opts.mapSizeBytes;
  }

  async open(): Promise<void> {
    if (this.db) return;
    await checkDataDir(this.dataDir);
    const options: RootDatabaseOptions = {
      encoding: 'binary',
      // deleteSession runs as a transaction callback; without strict order lmdb-js would run
      // it after the plain writes of the same turn, so a putSession right after it would be
      // deleted by it.
      strictAsyncOrder: true,
      // lmdb-js guesses from the path: a last name with a dot (mktemp's /tmp/tmp.AbC123,
      // /var/lib/shoal.d) would be taken as the data file itself and fail with EISDIR.
      noSubdir: false,
      ...(this.persistence === 'durable' ? { overlappingSync: false } : { noSync: true, noMetaSync: true }),
      ...(this.mapSizeBytes ? { mapSize: this.mapSizeBytes } : {}),
    };
    let db: Db;
    try {
      db = open<Buffer, Key>(this.dataDir, options);
    } catch (err) {
      // lmdb-js errors carry LMDB's code: positive is an OS errno, negative is LMDB's own verdict.
      const osError = err instanceof Error && 'code' in err && typeof err.code === 'number' && err.code > 0;
      throw new StoreError(
        osError ? StoreErrorCode.IO : StoreErrorCode.CORRUPT,
        `cannot open the LMDB environment in ${this.dataDir}: ${message(err)}`,
        { cause: err },
      );
    }
    try {
      this.migratedFrom = adoptOrCheckMeta(db, this.dataDir);
    } catch (err) {
      await db.close().catch(() => {});
      if (err instanceof StoreError) throw err;
      throw new StoreError(StoreErrorCode.CORRUPT, `cannot read the store in ${this.dataDir}: ${message(err)}`, { cause: err });
    }
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    if (!db) return;
    this.db = null;
    // `committed` is a thenable, not a Promise. A failed commit has already rejected its
    // writers; closing must not fail on it again.
    await Promise.resolve(db.committed).catch(ignore);
    await db.close();
  }

  // ------------------------------------------------------------ retained

  putRetained(topic: string, msg: StoredMessage | null): Promise<void> {
    return msg === null ? this.remove(retainedKey(topic)) : this.put(retainedKey(topic), () => encodeMessage(msg));
  }

  *loadRetained(): Iterable<StoredMessage> {
    const db = this.live();
    const now = Date.now();
    const expired: Key[] = [];
    try {
      for (const { key, value } of db.getRange(retainedRange())) {
        const msg = decodeMessage(value);
        if (isExpired(msg, now)) expired.push(key);
        else yield msg;
      }
    } finally {
      if (expired.length > 0) this.removeExpired(expired, now);
    }
  }

  /** Deletes only what is still expired when the write runs: another shard may have retained a fresh message meanwhile. */
  private removeExpired(keys: Key[], now: number): void {
    const db = this.db;
    if (!db) return;
    db.transaction(() => {
      for (const key of keys) {
        const cur = db.get(key);
        if (cur !== undefined && isExpired(decodeMessage(cur), now)) db.removeSync(key);
      }
    }).catch(() => {
      // Expired messages are skipped on every load anyway; the next load retries.
    });
  }

  // ------------------------------------------------------------ sessions

  putSession(s: StoredSession): Promise<void> {
    return this.put(sessionKey(s.clientId), () => encodeSession(s));
  }

  getSession(clientId: string): StoredSession | undefined {
    const raw = this.live().get(sessionKey(clientId));
    if (raw === undefined) return undefined;
    const s = decodeSession(raw);
    return s.clientId === clientId ? s : undefined;
  }

  deleteSession(clientId: string): Promise<void> {
    let db: Db;
    try {
      db = this.live();
    } catch (err) {
      return Promise.reject(err);
    }
    // One transaction, reading the write transaction's own view: it also sees writes for
    // this client queued earlier in the same turn, which a scan done now would miss.
    return this.settle(
      db.transaction(() => {
        db.removeSync(sessionKey(clientId));
        for (const range of [outboundRange(clientId), inboundRange(clientId)]) {
          const keys = [...db.getKeys(range)];
          for (const key of keys) db.removeSync(key);
        }
      }),
    );
  }

  *listSessions(): Iterable<StoredSession> {
    for (const { value } of this.live().getRange(sessionRange())) yield decodeSession(value);
  }

  // ------------------------------------------------------------ outbound

  putOutbound(clientId: string, seq: number, e: OutboundEntry): Promise<void> {
    return this.put(outboundKey(clientId, seq), () => encodeOutbound(e));
  }

  deleteOutbound(clientId: string, seq: number): Promise<void> {
    return this.remove(outboundKey(clientId, seq));
  }

  loadOutbound(clientId: string): Array<[seq: number, e: OutboundEntry]> {
    const out: Array<[number, OutboundEntry]> = [];
    for (const { key, value } of this.live().getRange(outboundRange(clientId))) out.push([lastNumber(key), decodeOutbound(value)]);
    return out;
  }

  // ------------------------------------------------------------ inbound QoS 2

  putInboundQos2(clientId: string, packetId: number): Promise<void> {
    return this.put(inboundKey(clientId, packetId), () => EMPTY);
  }

  deleteInboundQos2(clientId: string, packetId: number): Promise<void> {
    return this.remove(inboundKey(clientId, packetId));
  }

  loadInboundQos2(clientId: string): number[] {
    const ids: number[] = [];
    for (const key of this.live().getKeys(inboundRange(clientId))) ids.push(lastNumber(key));
    return ids;
  }

  // ------------------------------------------------------------ banned client ids

  putBanned(clientId: string, banned: boolean): Promise<void> {
    // The value holds the id: a long one is hashed in its key (keys.ts).
    return banned ? this.put(bannedKey(clientId), () => Buffer.from(clientId, 'utf8')) : this.remove(bannedKey(clientId));
  }

  loadBanned(): string[] {
    const ids: string[] = [];
    for (const { value } of this.live().getRange(bannedRange())) ids.push(Buffer.from(value as Uint8Array).toString('utf8'));
    return ids;
  }

  // ------------------------------------------------------------ stats

  stats(): StoreStats {
    const db = this.live();
    return {
      retained: db.getKeysCount(retainedRange()),
      sessions: db.getKeysCount(sessionRange()),
      bytes: usedBytes(db.getStats()),
    };
  }

  flushed(): Promise<void> {
    return this.lastSettled;
  }

  usedBytes(): number {
    return this.db ? usedBytes(this.db.getStats()) : 0;
  }

  // ------------------------------------------------------------ plumbing

  private live(): Db {
    if (this.db) return this.db;
    throw new StoreError(StoreErrorCode.CLOSED, `store ${this.dataDir} is not open`);
  }

  /** The value is built inside the try: a closed store or a bad value rejects, like a failed commit, instead of throwing. */
  private put(key: Key, value: () => Buffer): Promise<void> {
    try {
      return this.settle(this.live().put(key, value()));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private remove(key: Key): Promise<void> {
    try {
      return this.settle(this.live().remove(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private settle(p: Promise<unknown>): Promise<void> {
    if (p !== this.lastRaw) {
      this.lastRaw = p;
      // Also waits for the previous transaction (without taking on its failure), so the
      // newest promise settles last and flushed() covers every earlier write.
      const prev = this.lastSettled;
      this.lastSettled = p.then(() => prev.catch(ignore), (err: unknown) => {
        throw new StoreError(StoreErrorCode.IO, `store ${this.dataDir}: write failed: ${message(err)}`, { cause: err });
      });
    }
    return this.lastSettled;
  }
}

const EMPTY = Buffer.alloc(0);
function ignore(): void {}

/** Returns the older format a store was migrated from, or null. */
function adoptOrCheckMeta(db: Db, dir: string): number | null {
  let raw = db.get(META_KEY);
  if (raw === undefined && isEmpty(db)) {
    // A brand-new environment. Shards open concurrently on first start: noOverwrite lets
    // exactly one meta record win, and everyone then checks the one that did.
    db.putSync(META_KEY, encodeMeta(Date.now()), { noOverwrite: true });
    raw = db.get(META_KEY);
  }
  const meta = checkMeta(raw, dir);
  if (meta.version === STORE_VERSION) return null;
  // Every shard opens the store at start: the first rewrites the marker, the others see it done.
  let migrated = false;
  db.transactionSync(() => {
    const cur = db.get(META_KEY);
    if (cur !== undefined && checkMeta(cur, dir).version < STORE_VERSION) {
      db.putSync(META_KEY, encodeMigratedMeta(meta));
      migrated = true;
    }
  });
  return migrated ? meta.version : null;
}

function isEmpty(db: Db): boolean {
  for (const _ of db.getKeys({ limit: 1 })) return false;
  return true;
}

function isExpired(msg: StoredMessage, now: number): boolean {
  return msg.expiresAt !== 0 && msg.expiresAt <= now;
}

function usedBytes(stats: object): number {
  const n = (k: string): number => {
    const v: unknown = (stats as Record<string, unknown>)[k];
    return typeof v === 'number' ? v : 0;
  };
  return n('pageSize') * (n('treeBranchPageCount') + n('treeLeafPageCount') + n('overflowPages'));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

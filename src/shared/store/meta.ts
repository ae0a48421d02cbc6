// The meta record identifies a directory as a Shoal store and says which layout it uses.
// JSON on purpose: it is read once per open, and an operator can read it with any LMDB tool.
import { StoreError, StoreErrorCode } from './errors.ts';

export const STORE_FORMAT = 'shoal';
/**
 * Bump when keys or records change in a way this build's readers could misread, and add the
 * step to MIGRATIONS. History:
 *  1  retained messages and persistent sessions (subscriptions, will, expiry).
 *  2  also queued / in-flight messages of persistent sessions and inbound QoS 2 packet ids,
 *     restored at start (issue #5). Records of format 1 are read as they are: the step from 1
 *     only rewrites the marker (a format 1 store holds no queue, so nothing is owed).
 */
export const STORE_VERSION = 2;

/** In-place upgrades, by the version they start from; each ends at the next version. */
export const MIGRATIONS: Readonly<Record<number, string>> = { 1: 'marker only: queues and QoS 2 ids start empty' };

export interface StoreMeta { format: string; version: number; createdAt: number }

export function encodeMeta(createdAt: number): Buffer {
  const meta: StoreMeta = { format: STORE_FORMAT, version: STORE_VERSION, createdAt };
  return Buffer.from(JSON.stringify(meta), 'utf8');
}

/** Throws unless `raw` is the meta record of a store this build can read. */
export function checkMeta(raw: Uint8Array | undefined, dir: string): StoreMeta {
  if (raw === undefined) {
    throw new StoreError(
      StoreErrorCode.FOREIGN,
      `data directory ${dir} holds an LMDB environment that is not a Shoal store (it has data but no Shoal meta record)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch (err) {
    throw new StoreError(StoreErrorCode.CORRUPT, `data directory ${dir}: the store's meta record is unreadable`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || !('format' in parsed) || parsed.format !== STORE_FORMAT) {
    throw new StoreError(StoreErrorCode.FOREIGN, `data directory ${dir} holds an LMDB environment of some other program (meta record is not Shoal's)`);
  }
  const version = 'version' in parsed ? parsed.version : undefined;
  const createdAt = 'createdAt' in parsed ? parsed.createdAt : undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || typeof createdAt !== 'number') {
    throw new StoreError(StoreErrorCode.CORRUPT, `data directory ${dir}: the store's meta record is malformed`);
  }
  if (version > STORE_VERSION) {
    throw new StoreError(
      StoreErrorCode.VERSION,
      `data directory ${dir} was written by a newer Shoal (store format ${version}); this build reads format ${STORE_VERSION}. Upgrade Shoal or use another directory`,
    );
  }
  if (version < STORE_VERSION && !(version in MIGRATIONS)) {
    throw new StoreError(
      StoreErrorCode.VERSION,
      `data directory ${dir} has store format ${version}, which this Shoal cannot read or migrate (it reads format ${STORE_VERSION} and migrates from ${Object.keys(MIGRATIONS).join(', ')}); use another directory`,
    );
  }
  return { format: STORE_FORMAT, version, createdAt };
}

/** The meta record after migrating from `from` up to STORE_VERSION (one step per version). */
export function encodeMigratedMeta(meta: StoreMeta): Buffer {
  return Buffer.from(JSON.stringify({ format: STORE_FORMAT, version: STORE_VERSION, createdAt: meta.createdAt, migratedFrom: meta.version, migratedAt: Date.now() }), 'utf8');
}

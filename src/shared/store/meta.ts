// The meta record identifies a directory as a Shoal store and says which layout it uses.
// JSON on purpose: it is read once per open, and an operator can read it with any LMDB tool.
import { StoreError, StoreErrorCode } from './errors.ts';

export const STORE_FORMAT = 'shoal';
/** Bump when keys or records change in a way this build's readers could misread. */
export const STORE_VERSION = 1;

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
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || typeof createdAt !== 'number') {
    throw new StoreError(StoreErrorCode.CORRUPT, `data directory ${dir}: the store's meta record is malformed`);
  }
  if (version > STORE_VERSION) {
    throw new StoreError(
      StoreErrorCode.VERSION,
      `data directory ${dir} was written by a newer Shoal (store format ${version}); this build reads format ${STORE_VERSION}. Upgrade Shoal or use another directory`,
    );
  }
  return { format: STORE_FORMAT, version, createdAt };
}

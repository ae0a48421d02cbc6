// The store's front door: the broker picks an implementation by persistence mode and talks
// to the Store interface only.
import type { Store, StoreOptions } from './types.ts';
import { LmdbStore } from './lmdb-store.ts';
import { MemoryStore } from './memory-store.ts';

export type {
  OutboundEntry, OutboundState, Persistence, Store, StoredMessage, StoredSession, StoredSubscription,
  StoredWill, StoreOptions, StoreStats,
} from './types.ts';
export { StoreError, StoreErrorCode } from './errors.ts';
export type { StoreErrorCodeValue } from './errors.ts';

export function createStore(opts: StoreOptions): Store {
  if (opts.persistence === 'memory') return new MemoryStore();
  return new LmdbStore({ persistence: opts.persistence, dataDir: opts.dataDir, mapSizeBytes: opts.mapSizeBytes });
}

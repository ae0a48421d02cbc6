import { ShoalError } from '../errors.ts';

// Stable codes for everything the store refuses or fails at. Opening is where most of them
// surface: a store must never reset or reinterpret a directory it cannot vouch for.
export const StoreErrorCode = {
  /** The directory holds something that is not a Shoal store. */
  FOREIGN: 'STORE_FOREIGN',
  /** A Shoal/LMDB store that is damaged (bad header, truncated, undecodable record). */
  CORRUPT: 'STORE_CORRUPT',
  /** Written by a newer Shoal (or an LMDB build with another data format). */
  VERSION: 'STORE_VERSION',
  /** The file system said no: permissions, disk full, a failed commit. */
  IO: 'STORE_IO',
  /** Used before open() or after close(). */
  CLOSED: 'STORE_CLOSED',
} as const;
export type StoreErrorCodeValue = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends ShoalError {
  declare readonly code: StoreErrorCodeValue;
  constructor(code: StoreErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StoreError';
  }
}

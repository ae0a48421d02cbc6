// Failed logins per client address, over all shards (the shared address table in the stats
// block, address-table.ts): each failure in a row doubles the time the next refusal waits
// before it is sent (100 ms, 200 ms, ... up to 10 s), so guessing passwords from one address
// gets slow whichever shard its connections land on, while one mistyped password costs nothing
// noticeable. An address that has not failed for a minute starts from zero. When the table is
// full, a new address gets no delay (as for the per-address limits; docs/security.md).
import type { AddressTable } from '../../shared/address-table.ts';

const BASE_MS = 100;
const MAX_MS = 10_000;
const FORGET_S = 60;

export class FailedLogins {
  private readonly table: AddressTable;

  constructor(table: AddressTable) { this.table = table; }

  /** A failure from `addr`: the delay (ms) its refusal should wait (0 for the first). */
  failed(addr: string, now = Date.now()): number {
    const slot = this.table.slot(addr);
    if (slot < 0) return 0;
    const count = this.table.failed(slot, Math.floor(now / 1000), FORGET_S);
    return count <= 1 ? 0 : Math.min(MAX_MS, BASE_MS * 2 ** (count - 2));
  }

  /** addresses with failures on record, on any shard (0: a success has nothing to clear) */
  get size(): number { return this.table.failingAddresses(); }

  succeeded(addr: string): void {
    const slot = this.table.slot(addr);
    if (slot >= 0) this.table.loginSucceeded(slot);
  }
}

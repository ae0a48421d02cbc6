// Failed logins per client address: each failure in a row doubles the time the next refusal
// waits before it is sent (100 ms, 200 ms, ... up to 10 s), so guessing passwords from one
// address gets slow, while one mistyped password costs nothing noticeable. An address that
// has not failed for a minute starts from zero; the table is bounded (oldest entries go).
const BASE_MS = 100;
const MAX_MS = 10_000;
const FORGET_MS = 60_000;
const MAX_ADDRESSES = 10_000;

interface Entry { count: number; last: number }

export class FailedLogins {
  private readonly table = new Map<string, Entry>();

  /** A failure from `addr`: the delay (ms) its refusal should wait (0 for the first). */
  failed(addr: string, now = Date.now()): number {
    let e = this.table.get(addr);
    if (e === undefined || now - e.last > FORGET_MS) {
      if (e === undefined && this.table.size >= MAX_ADDRESSES) this.table.delete(this.table.keys().next().value!);
      e = { count: 0, last: now };
      this.table.set(addr, e);
    }
    e.count++;
    e.last = now;
    return e.count <= 1 ? 0 : Math.min(MAX_MS, BASE_MS * 2 ** (e.count - 2));
  }

  /** addresses with failures on record (0: a success has nothing to clear) */
  get size(): number { return this.table.size; }

  succeeded(addr: string): void { this.table.delete(addr); }
}

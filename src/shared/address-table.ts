// Per client address counters shared by all shards (--max-connections-per-ip, --connect-rate,
// the failed-login delay):
// an open-addressing table of Int32 words in the stats block's SharedArrayBuffer, updated with
// Atomics, so the limits hold across shards whichever shard the kernel or main gave a socket.
//
// An entry is [hash, live sockets, second, sockets opened in that second, failed logins in a
// row, second of the last failed login]; after the entries, one word counts the addresses with
// failed logins on record (so a successful login asks for its address only when there are any).
// Keys are FNV-1a
// hashes of the address text (two addresses with the same 32-bit hash share an entry: they are
// limited together, a rare and conservative error). Entries are never removed; when the table
// is full a new address is not limited (and that is counted nowhere: 4096 distinct addresses
// at the limits' scale of use means the limits need a bigger table, not silence about it —
// see docs/security.md).
import { fnv1a } from './fnv.ts';
export const ADDRESS_SLOTS = 4096;
const WORDS = 6;
const HEADER_WORDS = 2; // [addresses with failed logins, padding]
export const ADDRESS_TABLE_BYTES = (ADDRESS_SLOTS * WORDS + HEADER_WORDS) * 4;


export class AddressTable {
  private readonly w: Int32Array;
  private readonly header: Int32Array;

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    this.w = new Int32Array(sab, byteOffset, ADDRESS_SLOTS * WORDS);
    this.header = new Int32Array(sab, byteOffset + ADDRESS_SLOTS * WORDS * 4, HEADER_WORDS);
  }

  /** The entry index for `addr` (claimed if new), or -1 when the table is full. */
  slot(addr: string): number {
    const h = fnv1a(addr);
    const w = this.w;
    for (let i = 0, at = (h >>> 0) % ADDRESS_SLOTS; i < ADDRESS_SLOTS; i++, at = (at + 1) % ADDRESS_SLOTS) {
      const cur = Atomics.load(w, at * WORDS);
      if (cur === h) return at;
      if (cur === 0) {
        const prev = Atomics.compareExchange(w, at * WORDS, 0, h);
        if (prev === 0 || prev === h) return at;
      }
    }
    return -1;
  }

  /** One more live socket from the entry's address; the new count. */
  addLive(slot: number, delta: number): number { return Atomics.add(this.w, slot * WORDS + 1, delta) + delta; }
  live(slot: number): number { return Atomics.load(this.w, slot * WORDS + 1); }

  /** A socket opened in second `sec` (of the epoch): the number opened in that second so far. */
  opened(slot: number, sec: number): number {
    const w = this.w;
    const at = slot * WORDS;
    const was = Atomics.load(w, at + 2);
    if (was !== sec && Atomics.compareExchange(w, at + 2, was, sec) === was) Atomics.store(w, at + 3, 0);
    return Atomics.add(w, at + 3, 1) + 1;
  }

  /**
   * A failed login from the entry's address in second `sec`: the failures in a row so far,
   * this one included. A run older than `forgetS` seconds starts again from one.
   */
  failed(slot: number, sec: number, forgetS: number): number {
    const w = this.w;
    const at = slot * WORDS;
    const last = Atomics.exchange(w, at + 5, sec);
    if (sec - last > forgetS && Atomics.exchange(w, at + 4, 0) > 0) Atomics.sub(this.header, 0, 1);
    const n = Atomics.add(w, at + 4, 1) + 1;
    if (n === 1) Atomics.add(this.header, 0, 1);
    return n;
  }

  /** A successful login from the entry's address: its run of failures is over. */
  loginSucceeded(slot: number): void {
    if (Atomics.exchange(this.w, slot * WORDS + 4, 0) > 0) Atomics.sub(this.header, 0, 1);
  }

  /** Addresses with failed logins on record, over all shards. */
  failingAddresses(): number { return Atomics.load(this.header, 0); }
}

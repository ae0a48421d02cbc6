// The commit gate as the data path sees it (the gate itself: durability.ts). Every packet whose
// meaning depends on store writes goes out through sendGated, so the decision "now, or after the
// commit" is made in this one place.
import type { Connection } from '../net/connection.ts';

/** What senders ask of the commit gate. */
export interface CommitGate {
  /** Sends `buf` on `conn` once this turn's writes (and the peers' for its forwards) have committed. */
  send(conn: Connection, buf: Buffer, wait: boolean): void;
}

/**
 * Sends `buf` at once, unless it must wait for the commit (`wait`) or earlier packets of the
 * connection are still in the gate (then it queues behind them, so nothing is reordered).
 */
export function sendGated(gate: CommitGate, conn: Connection, buf: Buffer, wait: boolean): void {
  if (wait || conn.gated > 0) gate.send(conn, buf, wait);
  else conn.send(buf);
}

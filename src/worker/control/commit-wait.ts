// A message the broker publishes itself (POST /api/v1/mqtt/message) is answered, at QoS 1/2, only
// once what it changed is committed: the same promise a client's PUBACK makes. The commit gate
// releases packets to connections in turn order (durability.ts); a waiter that looks like a
// connection to the gate takes its place in that order and turns the release into a promise,
// so the gate needs no second way of saying "committed".
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import type { CommitGate } from '../durable/gate.ts';
import type { Durability } from '../durable/durability.ts';

export interface GateParts { readonly durability: Pick<Durability, 'mark' | 'changedSince'> & CommitGate }

const MARKER = Buffer.from([0x40, 0x02, 0x00, 0x00]); // a PUBACK shape: a lost forward fails it too

/** Settles when the writes and forwards of this turn have committed; rejects when they failed or a peer was lost. */
export function waitForCommit(parts: GateParts): Promise<void> {
  return new Promise((resolve, reject) => {
    const waiter = {
      state: ConnState.CONNECTED as number,
      gated: 0,
      session: null,
      send: () => { waiter.state = ConnState.CLOSED; resolve(); },
      disconnect: (_reason: number, why?: string) => { waiter.state = ConnState.CLOSED; reject(new Error(why ?? 'store commit failed')); },
    };
    parts.durability.enqueue(waiter as unknown as Connection, MARKER);
  });
}

// Acks that wait for something that can take long: a frame held for another node while NATS is
// away (worker/cluster/hold.ts), up to --cluster-hold. The commit gate's groups leave in order
// (durability.ts); one such ack in a group would stop every later gated packet of the shard,
// other clients' acks for messages only this node wants included, for the whole outage. So the
// group lets it go (its own commit is done) and the ack waits here, on its connection alone.
// Only such acks wait here, each behind the ones parked before it on its connection (their
// order kept among themselves); the connection's other packets, its acks for messages no other
// node wants included, go at their commit: MQTT's ack order (v5 4.6, [MQTT-4.6.0-2/3]) binds
// the Client, not the Server (docs/cluster.md, "NATS lost"). conn.gated stays above 0 while one
// waits, so those packets pass through the gate's groups, in their order.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';

interface Entry { buf: Buffer; state: 'waiting' | 'ok' | 'failed' }

export class HeldAcks {
  private readonly parked = new Map<Connection, Entry[]>();

  /**
   * `buf` goes out on `conn` once `wait` settles, after the acks parked here before it:
   * resolved, it is sent; rejected, the connection is closed with 0x80 instead (the publisher
   * resends). The caller's conn.gated count is released when it goes.
   */
  park(conn: Connection, buf: Buffer, wait: Promise<void>): void {
    const e: Entry = { buf, state: 'waiting' };
    let q = this.parked.get(conn);
    if (q === undefined) this.parked.set(conn, q = []);
    q.push(e);
    wait.then(() => { e.state = 'ok'; this.drain(conn, q); }, () => { e.state = 'failed'; this.fail(conn); this.drain(conn, q); });
  }

  /**
   * An ack that will not go out: the connection is closed with 0x80 now, not once the held acks
   * before it settle (they may wait --cluster-hold); the publisher resends what was not acknowledged.
   */
  private fail(conn: Connection): void {
    if (conn.state !== ConnState.CLOSED) conn.disconnect(Reason.UNSPECIFIED_ERROR, 'not confirmed by the node the message went to; publish it again');
  }

  private drain(conn: Connection, q: Entry[]): void {
    while (q.length > 0 && q[0]!.state !== 'waiting') {
      const e = q.shift()!;
      conn.gated--;
      if (conn.state === ConnState.CLOSED) continue;
      if (e.state === 'failed') this.fail(conn);
      else conn.send(e.buf);
    }
    if (q.length === 0 && this.parked.get(conn) === q) this.parked.delete(conn);
  }
}

// What the kernel holds for one loopback TCP connection, read from /proc/net/tcp{,6}: bytes
// our socket received but the tool has not read (rx_queue of our end), and bytes the broker
// wrote that our end has not acknowledged (tx_queue of the broker's end). For a subscriber
// that stopped reading, both fill up and stay full: the tool's proof that it really stopped,
// seen from outside the tool's own process. Linux only; null elsewhere.
import { readFileSync } from 'node:fs';

export interface TcpQueues {
  /** Unread bytes in our receive buffer. */
  oursUnread: number;
  /** Bytes in the broker's send buffer for this connection (unsent or unacknowledged). */
  brokerUnsent: number;
}

function tables(): string[] {
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try { out.push(readFileSync(f, 'utf8')); } catch { /* not Linux, or no IPv6 */ }
  }
  return out;
}

/** Port of a "0100007F:0753" address field. */
const portOf = (field: string): number => parseInt(field.slice(field.lastIndexOf(':') + 1), 16);

/** Queues of the connection between our local port and the broker's port, or null if not found. */
export function tcpQueues(localPort: number, brokerPort: number): TcpQueues | null {
  let ours: number | null = null;
  let broker: number | null = null;
  for (const text of tables()) {
    for (const line of text.split('\n').slice(1)) {
      // sl local rem st tx_queue:rx_queue ...
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const local = portOf(f[1]!);
      const remote = portOf(f[2]!);
      const [tx, rx] = f[4]!.split(':').map((h) => parseInt(h, 16));
      if (local === localPort && remote === brokerPort) ours = rx!;
      else if (local === brokerPort && remote === localPort) broker = tx!;
    }
  }
  return ours === null && broker === null ? null : { oursUnread: ours ?? 0, brokerUnsent: broker ?? 0 };
}

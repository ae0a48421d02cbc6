// What the stalled (or slow) subscribers got, summed over the group, for the report.
import type { ReaderReport } from './reader.ts';
import type { TcpQueues } from './tcp-queues.ts';

export interface ReaderGroup {
  count: number;
  /** Messages each was offered (what the publisher sent). */
  offered: number;
  /** PUBLISH packets read, summed. */
  received: number;
  bytesRead: number;
  bytesAfterSuback: number;
  /** Summed kernel queues (Linux), null when none could be read. */
  queues: TcpQueues | null;
  /** Connections the broker closed. */
  closed: number;
  each: ReaderReport[];
}

export function summarizeReaders(reports: ReaderReport[], offered: number): ReaderGroup {
  let queues: TcpQueues | null = null;
  for (const r of reports) {
    if (r.queues === null) continue;
    queues ??= { oursUnread: 0, brokerUnsent: 0 };
    queues.oursUnread += r.queues.oursUnread;
    queues.brokerUnsent += r.queues.brokerUnsent;
  }
  return {
    count: reports.length,
    offered,
    received: reports.reduce((a, r) => a + r.received, 0),
    bytesRead: reports.reduce((a, r) => a + r.bytesRead, 0),
    bytesAfterSuback: reports.reduce((a, r) => a + r.bytesAfterSuback, 0),
    queues,
    closed: reports.filter((r) => r.closed).length,
    each: reports,
  };
}

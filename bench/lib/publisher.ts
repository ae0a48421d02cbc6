// Sends `total` publishes from one template as fast as the socket (or --rate) allows:
// batches up to 16 KiB per write, waits for 'drain' and for the QoS window, yields to the
// event loop between batches so receivers in the same thread keep reading.
import type { LeanClient } from './client.ts';
import type { PublishTemplate } from './packets.ts';
import type { Pacer } from './pacer.ts';
import { sleep } from './clock.ts';

export interface PumpResult {
  sent: number;
  /** Why it stopped early: 'closed', 'stalled' (no room for --timeout), 'stopped'; null when done. */
  stoppedBy: 'closed' | 'stalled' | 'stopped' | null;
}

export interface PumpOptions {
  pacer: Pacer | null;
  timeoutMs: number;
  shouldStop?: () => boolean;
  /** Called after each batch with the number just sent. */
  onSent?: (n: number) => void;
}

const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function pump(client: LeanClient, tpl: PublishTemplate, total: number, o: PumpOptions): Promise<PumpResult> {
  let seq = 0;
  while (seq < total) {
    if (client.closed) return { sent: seq, stoppedBy: 'closed' };
    if (o.shouldStop?.() === true) return { sent: seq, stoppedBy: 'stopped' };
    let want = total - seq;
    if (o.pacer !== null) {
      want = o.pacer.take(want);
      if (want === 0) { await sleep(o.pacer.waitMs()); continue; }
    }
    const n = client.publishBatch(tpl, seq, want);
    if (o.pacer !== null && n < want) o.pacer.refund(want - n);
    seq += n;
    o.onSent?.(n);
    if (client.blocked) {
      if (!(await client.writable(o.timeoutMs))) return { sent: seq, stoppedBy: client.closed ? 'closed' : 'stalled' };
    } else {
      await yieldToIo();
    }
  }
  return { sent: seq, stoppedBy: null };
}

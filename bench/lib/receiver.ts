// What a subscribing client does with each delivery: read the payload header, record the
// publish→deliver latency, and feed the publisher's sequence tracker.
import type { LeanClient, MessageHandler } from './client.ts';
import type { LatencyRecorder } from './histogram.ts';
import { HEADER_SIZE, PUBLISHER_OFFSET, SEQ_OFFSET, TIME_OFFSET } from './payload.ts';
import { StreamSet } from './tracker.ts';
import { nowMs } from './clock.ts';

/** Shared by every receiver of a shard: when anything last arrived (shared clock, ms). */
export class Activity {
  lastMs = nowMs();
  /** When the last test message was delivered. */
  lastDeliveryMs = 0;
  /** Deliveries without our header (retained leftovers, other tools): ignored, counted. */
  foreign = 0;
  touch(): void {
    this.lastMs = nowMs();
  }
}

/** The handler for `client`'s deliveries; arrival time is when their chunk was read. */
export function makeReceiver(client: LeanClient, streams: StreamSet, latency: LatencyRecorder | null, activity: Activity): MessageHandler {
  return (buf, off, len) => {
    const now = client.chunkTimeMs;
    activity.lastMs = now;
    activity.lastDeliveryMs = now;
    if (len < HEADER_SIZE) {
      activity.foreign++;
      return;
    }
    if (latency !== null) latency.recordMs(now - buf.readDoubleBE(off + TIME_OFFSET));
    streams.see(buf.readUInt32BE(off + PUBLISHER_OFFSET), buf.readUInt32BE(off + SEQ_OFFSET));
  };
}

/**
 * Polls `done` until it holds or nothing arrived for `silenceMs`; bounded by both.
 * Resolves true when done.
 */
export async function waitUntil(done: () => boolean, activity: Activity, silenceMs: number, pollMs = 10): Promise<boolean> {
  while (!done()) {
    if (nowMs() - activity.lastMs > silenceMs) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

import type { Connection } from './connection.ts';

/**
 * End-to-end flow control for the data path. Instead of letting per-subscriber queues (and the
 * broker's memory) grow while a subscriber's socket is congested, the *source* of the messages
 * waits until the subscriber drains:
 *
 * - local publisher → congested subscriber on this shard: after the publisher's current read
 *   chunk has been handled, its socket is paused until every subscriber it wrote to while
 *   congested has drained (`Connection.waiters` / `pausedBy`);
 * - local publisher → full ring to a peer (the peer is not keeping up): the publisher's socket
 *   is paused until the spilled frames are in the ring (`Peers`).
 *
 * A message from a peer ring to a congested subscriber is still written (the ring is not held
 * back: that would stall every other subscriber behind it) up to `maxClientBacklog` bytes.
 * So memory stays bounded and a consumer that keeps up loses nothing, like Mosquitto's single
 * loop. A consumer congested for longer than `slowClientMs` is slow: nobody waits for it any
 * more, and once its backlog is past `maxClientBacklog` its QoS 0 goes to the session queue
 * bounded by `maxQueuedQos0`, which drops the oldest (counted).
 */
export class Backpressure {
  /** The connection whose bytes are being handled right now (null outside a socket read). */
  current: Connection | null = null;
  private readonly slowMs: number;
  private readonly maxBacklog: number;

  constructor(slowMs: number, maxBacklog: number) {
    this.slowMs = slowMs;
    this.maxBacklog = maxBacklog;
  }

  /**
   * A message is about to be written to `sub`, which is congested. True: write it (the source,
   * if it is a local publisher, now waits for `sub` to drain). False: do not add to the socket's
   * backlog (QoS 0 then goes to the bounded session queue).
   */
  admit(sub: Connection, now: number): boolean {
    const src = this.current;
    if (src === null || src === sub || sub.slow) return sub.backlog() < this.maxBacklog;
    if (sub.congestedAt !== 0 && now - sub.congestedAt > this.slowMs) {
      this.declareSlow(sub);
      return sub.backlog() < this.maxBacklog;
    }
    if (sub.lastWaiter === src) return true;
    sub.lastWaiter = src;
    const w = (sub.waiters ??= []);
    if (w.indexOf(src) >= 0) return true;
    w.push(src);
    src.pausedBy++;
    if (sub.slowTimer === null) {
      sub.slowTimer = setTimeout(() => {
        sub.slowTimer = null;
        if (sub.congested && !sub.slow) this.declareSlow(sub);
      }, this.slowMs + 10);
      sub.slowTimer.unref();
    }
    return true;
  }

  private declareSlow(sub: Connection): void {
    sub.slow = true;
    this.release(sub);
  }

  /** `sub` drained (or closed): whoever waited for it may go on. */
  release(sub: Connection): void {
    if (sub.slowTimer !== null && !sub.congested) { clearTimeout(sub.slowTimer); sub.slowTimer = null; }
    sub.lastWaiter = null;
    const w = sub.waiters;
    if (w === null) return;
    sub.waiters = null;
    for (let i = 0; i < w.length; i++) w[i]!.unpause();
  }
}

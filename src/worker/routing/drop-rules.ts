// When a message for a session is dropped rather than queued: the one predicate Delivery drops
// by (deliverNow, dropsAtOnce) and withdraw.ts withdraws a route by, so the two cannot drift.
import type { BrokerConfig } from '../../shared/config.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Session } from '../session/session.ts';

type QueueBounds = Pick<BrokerConfig, 'maxQueuedMessages' | 'maxQueuedBytes' | 'maxQueuedQos0'>;

/** `s`'s queue has no room for a message of `size` payload + topic bytes (the bounds: --max-queued-messages, --max-queued-bytes). */
export function queueFull(s: Session, size: number, cfg: QueueBounds): boolean {
  return s.queued >= cfg.maxQueuedMessages || (cfg.maxQueuedBytes > 0 && s.queued > 0 && s.queuedBytes + size > cfg.maxQueuedBytes);
}

/**
 * `s` would drop a message of `size` payload + topic bytes delivered at `qos` at once, without
 * anyone waiting for it: a client nobody waits for (slow, or offline for QoS 1/2: deliverNow
 * makes the source wait for any other), not moving, with something queued, and its QoS 0 queue
 * at --max-queued-qos0 (QoS 0) or, at QoS 1/2, no queued QoS 0 to evict and its queue full.
 * Hooks that want to see drops are the caller's to check.
 */
export function dropsAtOnce(s: Session, qos: number, size: number, cfg: QueueBounds): boolean {
  if (s.queued === 0 || s.moving !== null) return false;
  const c = s.conn;
  const online = c !== null && c.state === ConnState.CONNECTED;
  if (online && !c.slow) return false;
  if (qos === 0) return online && s.qos0Held >= cfg.maxQueuedQos0;
  return s.qos0Held === 0 && queueFull(s, size, cfg);
}

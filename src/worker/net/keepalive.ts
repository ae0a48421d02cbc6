import { Reason } from '../../shared/protocol/reason-codes.ts';
import { ConnState } from './conn-state.ts';
import type { Connection } from './connection.ts';

/**
 * One sweep every half second over the shard's connections instead of a timer per connection: 100k
 * timers cost far more than a 100k-element loop per second. A client silent for 1.5 × its
 * keepalive is disconnected [MQTT-3.1.2-24]; a socket that never sends CONNECT (or never finishes
 * its authentication exchange) within the connect timeout is closed.
 */
export function startKeepalive(connections: ReadonlySet<Connection>, connectTimeoutMs: number): NodeJS.Timeout {
  const t = setInterval(() => {
    const now = Date.now();
    for (const c of connections) {
      if (c.state === ConnState.CONNECTED) {
        if (c.keepaliveMs > 0 && now - c.lastRx > c.keepaliveMs * 1.5) c.disconnect(Reason.KEEP_ALIVE_TIMEOUT, 'keep alive timeout');
      } else if ((c.state === ConnState.NEW || c.state === ConnState.AUTHENTICATING) && now - c.connectedAt > connectTimeoutMs) {
        c.close();
      }
    }
  }, 500);
  t.unref();
  return t;
}

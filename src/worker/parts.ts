import type { Store } from '../shared/store/index.ts';
import type { AccessHook } from './auth/access.ts';
import type { AuthHook } from './auth/hook.ts';
import type { ConnectLimits } from './auth/limits.ts';
import type { ShardContext } from './context.ts';
import type { Durability } from './durable/durability.ts';
import type { Backpressure } from './net/backpressure.ts';
import type { Connection } from './net/connection.ts';
import type { PeerLink } from './peers/peers.ts';
import type { Delivery } from './routing/delivery.ts';
import type { RetainedIndex } from './routing/retain.ts';
import type { Routing } from './routing/routing.ts';
import type { SessionLifecycle } from './session/lifecycle.ts';
import type { Registry } from './session/registry.ts';

/**
 * What a connection and its packet handlers reach on their shard (`conn.shard`): the packet
 * handlers are where the parts meet, so they see the parts, each by its own interface. The
 * parts themselves see only what their constructors name.
 */
export interface ShardParts extends ShardContext {
  readonly store: Store;
  readonly auth: AuthHook;
  /** topic access (auth/access.ts); null = none configured, so nothing is checked */
  readonly access: AccessHook | null;
  /** per-address and per-client limits (auth/limits.ts) */
  readonly limits: ConnectLimits;
  readonly bp: Backpressure;
  readonly peers: PeerLink;
  readonly routing: Routing;
  readonly delivery: Delivery;
  readonly durability: Durability;
  readonly registry: Registry;
  readonly lifecycle: SessionLifecycle;
  readonly retained: RetainedIndex;
  /** A connection is closed: count it out and let its session go on offline (or end). */
  connectionClosed(conn: Connection, wasConnected: boolean): void;
}

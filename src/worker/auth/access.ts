// Access control: the seam every topic permission goes through, in the shape of comqtt's and
// mochi-mqtt's hooks (`OnACLCheck(client, topic, write) bool`), so the general hook system of
// issue #15 can load more of them from modules rather than replace this. Authentication, the
// other half (`OnConnectAuthenticate`), is the AuthHook's `check` (hook.ts).
//
// A shard builds one AccessHook at start (create.ts): the ACL file's (acl-access.ts), an
// --auth-hook module's own `onACLCheck`, or none; when hook modules implement onACLCheck, the
// registry's access (hooks/access.ts) asks that one first and then the modules at delivery.
// With none, no connection gets a guard and the handlers and delivery skip every check on a
// null field: the hot path is unchanged.
import type { SubscribeVerdict } from '../../shared/auth/acl.ts';

/** What a hook knows of the client it decides for. `state` is the hook's own per-client slot. */
export interface AccessClient {
  readonly clientId: string;
  readonly username: string | undefined;
  /** the hook's per-client data (the ACL file keeps the client's prepared rules here) */
  state: unknown;
  /** the hook's generation `state` was prepared for (a reload bumps the hook's) */
  stateGen: number;
  /** the hook modules' slot at delivery (hooks/access.ts), beside the file's `state` */
  hookState: unknown;
  /** the connection's address and protocol version while it is alive; null for an offline session */
  conn(): GuardConn | null;
}

/** What a guard knows of its connection, for the hook modules' client (address read when asked). */
export interface GuardConn { readonly remote: string; readonly version: number }

export interface AccessHook {
  /** May `client` PUBLISH to `topic` (write = true), or receive a message on it (write = false)? */
  onACLCheck(client: AccessClient, topic: string, write: boolean): boolean;
  /**
   * SUBSCRIBE: 'deny' (no topic of the filter is readable: refused), 'grant' (all are: no
   * delivery check), 'partial' (granted; each delivery asked). Optional: a hook without it
   * gets 'partial' for every filter, so it is asked at every delivery.
   */
  subscribeVerdict?(client: AccessClient, filter: string): SubscribeVerdict;
  /** A read check for delivery that may cache per (client, topic); default onACLCheck(client, topic, false). */
  canDeliver?(client: AccessClient, topic: string): boolean;
}

/**
 * The access of a client whose identity is unknown (an offline session read from a store record
 * written before the user name was kept): nothing is allowed on its behalf until it connects.
 */
export const DENY_ALL: AccessHook = { onACLCheck: () => false, subscribeVerdict: () => 'deny', canDeliver: () => false };

/**
 * One client's access, as the handlers and delivery ask it: made at CONNECT when the shard has
 * an AccessHook, kept on the session and on subscriptions that need delivery checks.
 */
export class ClientGuard implements AccessClient {
  readonly clientId: string;
  readonly username: string | undefined;
  state: unknown = null;
  stateGen = -1;
  hookState: unknown = null;
  // Weak: an offline session keeps its last connection's guard, not the closed connection.
  private readonly connRef: WeakRef<GuardConn> | null;
  private readonly hook: AccessHook;

  constructor(hook: AccessHook, clientId: string, username: string | undefined, conn: GuardConn | null = null) {
    this.hook = hook;
    this.clientId = clientId;
    this.username = username;
    this.connRef = conn === null ? null : new WeakRef(conn);
  }

  conn(): GuardConn | null { return this.connRef?.deref() ?? null; }

  canPublish(topic: string): boolean { return this.hook.onACLCheck(this, topic, true); }
  canRead(topic: string): boolean { return this.hook.onACLCheck(this, topic, false); }
  canDeliver(topic: string): boolean {
    const h = this.hook;
    return h.canDeliver !== undefined ? h.canDeliver(this, topic) : h.onACLCheck(this, topic, false);
  }
  subscribeVerdict(filter: string): SubscribeVerdict {
    const h = this.hook;
    return h.subscribeVerdict !== undefined ? h.subscribeVerdict(this, filter) : 'partial';
  }
}

// The auth room: hook.ts (the interface), hook-adapter.ts (an AuthHook as a hook of the
// registry), create.ts (how a shard builds the files' and --auth-hook's hooks from the
// configuration) and users.ts (the --auth-users file with SCRAM-SHA-256).
//
// The authentication hook interface the password file, the users file and an --auth-hook module
// implement: asked at CONNECT (user name / password, or an MQTT 5 Authentication Method with its
// exchange of AUTH packets) and at re-authentication, each through the registry's stack
// (hook-adapter.ts; ../hooks/auth.ts is the one AuthHook the CONNECT and AUTH handlers call).
// The broker owns the packets and reason codes; a hook only decides. Every decision may be
// returned directly or as a promise (a hook that hashes or asks a service must not block the
// shard: the connection defers its packets meanwhile).
import { Reason } from '../../shared/protocol/reason-codes.ts';

export interface AuthRequest {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  /** Peer address "ip:port" (looked up when read: keep it out of hot paths). */
  readonly remote: string;
  /** 3, 4 or 5 */
  version: number;
}

/**
 * A decision. `reason`: 0x00 success, 0x18 continue (enhanced authentication only: the broker
 * sends AUTH 0x18 with `data` and waits for the client's AUTH), or a CONNACK / DISCONNECT
 * reason code ≥ 0x80: 0x86 bad user name or password, 0x87 not authorized, 0x8C bad
 * authentication method, 0x8A banned, 0x9C use another server / 0x9D server moved (with
 * `serverReference`), ... A 3.1.1 client gets the matching CONNACK return code (4, 5, or 3).
 */
export interface AuthOutcome {
  reason: number;
  /** Authentication Data for the client (AUTH 0x18, or CONNACK / AUTH 0x00 on success). */
  data?: Buffer;
  /** Reason String (v5; left out when the client asked for no problem information, except on CONNACK/DISCONNECT). */
  reasonString?: string;
  /** Server Reference (v5) with 0x9C / 0x9D. */
  serverReference?: string;
}

export type Maybe<T> = T | Promise<T>;

/** One enhanced-authentication conversation (a CONNECT, or one re-authentication). */
export interface AuthExchange {
  /** Called with the Authentication Data of CONNECT / AUTH 0x19 first, then of each AUTH 0x18. */
  step(data: Buffer | undefined): Maybe<AuthOutcome>;
}

export interface AuthHook {
  /** A CONNECT without an Authentication Method (every 3.1/3.1.1 CONNECT). */
  check(req: AuthRequest): Maybe<AuthOutcome>;
  /** Authentication Methods (MQTT 5) this hook implements; others get CONNACK 0x8C [MQTT-4.12.0-1]. */
  supportsMethod(method: string): boolean;
  /** Starts a conversation for `method`; `reauth` = started by AUTH 0x19 on a connected client. */
  begin(method: string, req: AuthRequest, reauth: boolean): AuthExchange;
}

export const ALLOWED: AuthOutcome = Object.freeze({ reason: Reason.SUCCESS });

/** The default: everyone is allowed (like Mosquitto without a password file); no methods. */
export class AllowAll implements AuthHook {
  check(_req: AuthRequest): AuthOutcome { return ALLOWED; }
  supportsMethod(_method: string): boolean { return false; }
  begin(_method: string, _req: AuthRequest, _reauth: boolean): AuthExchange {
    return { step: () => ({ reason: Reason.BAD_AUTHENTICATION_METHOD }) };
  }
}

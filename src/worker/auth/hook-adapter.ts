// An AuthHook (hook.ts: the users file, the password file, an --auth-hook module's hook) as a
// hook of the registry, so that every CONNECT decision and every Authentication Method is one
// stack (docs/hooks.md, "Order"): its `check` is onConnectAuthenticate, its methods
// (supportsMethod, begin) the enhanced-authentication point (supportsAuthMethod, onAuthPacket).
// Outcomes become verdicts and answers one for one: the Reason String and the Server Reference
// (0x9C / 0x9D) ride along.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AuthAnswer, AuthConversation, Hook, HookClient, Maybe, Verdict } from '../hooks/hook.ts';
import { isThenable, SELF_BOUNDED } from '../hooks/registry.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest } from './hook.ts';

export class AuthHookAdapter implements Hook {
  readonly auth: AuthHook;
  /** true for the files (their promises are bounded by the files: the failed-login delays); an --auth-hook module's get the hook timeout. */
  readonly [SELF_BOUNDED]: boolean;

  constructor(auth: AuthHook, selfBounded: boolean) {
    this.auth = auth;
    this[SELF_BOUNDED] = selfBounded;
  }

  onConnectAuthenticate(client: HookClient, password: Buffer | undefined): Maybe<Verdict> {
    const o = this.auth.check(new Login(client, password));
    return isThenable(o) ? Promise.resolve(o).then(verdict) : verdict(o);
  }

  supportsAuthMethod(method: string): boolean { return this.auth.supportsMethod(method); }

  onAuthPacket(client: HookClient, method: string, data: Buffer | undefined, reauth: boolean, conv: AuthConversation): Maybe<AuthAnswer> {
    // One AuthExchange per conversation (its own state: the SCRAM nonce between steps).
    const ex = (conv.state ??= this.auth.begin(method, new Login(client, conv.password), reauth)) as AuthExchange;
    const o = ex.step(data);
    return isThenable(o) ? Promise.resolve(o).then(answer) : answer(o);
  }
}

const ALLOW: Verdict = true;

/** An AuthOutcome of a CONNECT as a verdict: success allows; 0x18 (meaningless there) or another code below 0x80 refuses with 0x87. */
function verdict(o: AuthOutcome): Verdict {
  if (o.reason === Reason.SUCCESS) return ALLOW;
  const fail = o.reason >= 0x80 ? o.reason : Reason.NOT_AUTHORIZED;
  return o.reasonString === undefined && o.serverReference === undefined ? fail : { fail, reasonString: o.reasonString, serverReference: o.serverReference };
}

/** An AuthOutcome of an exchange's step as the registry's answer. */
function answer(o: AuthOutcome): AuthAnswer {
  if (o.reason === Reason.CONTINUE_AUTHENTICATION) return { continue: o.data, reasonString: o.reasonString };
  if (o.reason === Reason.SUCCESS) return { success: o.data, reasonString: o.reasonString };
  return { fail: o.reason, reasonString: o.reasonString, serverReference: o.serverReference };
}

/** The request an AuthHook reads; the address only when it is read (a getpeername() behind the hook client). */
class Login implements AuthRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly version: number;
  readonly #client: HookClient;
  constructor(client: HookClient, password: Buffer | undefined) {
    this.#client = client;
    this.clientId = client.clientId;
    this.username = client.username;
    this.password = password;
    this.version = client.protocolVersion;
  }
  get remote(): string { return this.#client.address; }
}

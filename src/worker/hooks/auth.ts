// The CONNECT-time points as the shard's authentication hook. Every decision is the registry's
// stack: onConnect of the modules, then onConnectAuthenticate in stack order (the files' hooks,
// --auth-hook's, the modules': auth/create.ts builds the first two); and an MQTT 5 Authentication
// Method is served by the first hook of the stack that serves it (onAuthPacket answering), the
// other hooks implementing onAuthPacket observing each step. What no hook refuses is decided by
// `defaults` (allow-all, as Mosquitto without a password file). Wrapping the authentication hook
// keeps the CONNECT and AUTH handlers as they are.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from '../auth/hook.ts';
import type { AuthAnswer, AuthConversation, HookClient, Refusal } from './hook.ts';
import { isThenable, LazyClient, refusalCode, type AuthServer, type HookRegistry } from './registry.ts';

export class HookedAuth implements AuthHook {
  private readonly defaults: AuthHook;
  private readonly hooks: HookRegistry;
  private readonly shard: number;

  constructor(defaults: AuthHook, hooks: HookRegistry, shard: number) {
    this.defaults = defaults;
    this.hooks = hooks;
    this.shard = shard;
  }

  /** A CONNECT's client as the points see it; its address is looked up only when read. */
  private client(req: AuthRequest): HookClient { return new LazyClient(req.clientId, req.username, req.version, this.shard, () => req.remote); }

  /** The client's user name, kept for HookClient once its CONNECT is allowed (not before: a refused one must not replace a connected client's). */
  readonly allowed = (req: AuthRequest, o: AuthOutcome): AuthOutcome => {
    if (o.reason === Reason.SUCCESS) this.hooks.usernames.set(req.clientId, req.username);
    return o;
  };

  check(req: AuthRequest): Maybe<AuthOutcome> {
    return then(this.decide(req), (o) => this.allowed(req, o));
  }

  private decide(req: AuthRequest): Maybe<AuthOutcome> {
    const h = this.hooks.has;
    if (!h.onConnect && !h.onConnectAuthenticate) return this.defaults.check(req);
    const client = this.client(req);
    return then(this.onConnect(client), (r) => {
      if (r !== null) return r;
      if (!h.onConnectAuthenticate) return this.defaults.check(req);
      return then(this.hooks.decideConnect('onConnectAuthenticate', Reason.BAD_USER_NAME_OR_PASSWORD, [client, req.password]), (c) => (c === 0 ? this.defaults.check(req) : outcomeOf(c)));
    });
  }

  /** onConnect's refusal, or null. */
  onConnect(client: HookClient): Maybe<AuthOutcome | null> {
    if (!this.hooks.has.onConnect) return null;
    return then(this.hooks.decideConnect('onConnect', Reason.NOT_AUTHORIZED, [client]), (r) => (r === 0 ? null : outcomeOf(r)));
  }

  supportsMethod(method: string): boolean { return this.hooks.authServer(method) !== null; }

  begin(method: string, req: AuthRequest, reauth: boolean): AuthExchange {
    const server = this.hooks.authServer(method);
    if (server === null) return NO_SERVER; // a hook that stopped serving it since CONNECT
    return new HookedExchange(this, this.hooks, server, method, req, this.client(req), reauth);
  }
}

/** One conversation through the registry: onConnect first (CONNECT's only), then each step answered by the serving hook. */
class HookedExchange implements AuthExchange {
  private readonly auth: HookedAuth;
  private readonly hooks: HookRegistry;
  private readonly server: AuthServer;
  private readonly method: string;
  private readonly req: AuthRequest;
  private readonly client: HookClient;
  private readonly conv: AuthConversation;

  constructor(auth: HookedAuth, hooks: HookRegistry, server: AuthServer, method: string, req: AuthRequest, client: HookClient, reauth: boolean) {
    this.auth = auth;
    this.hooks = hooks;
    this.server = server;
    this.method = method;
    this.req = req;
    this.client = client;
    this.conv = { reauth, password: req.password, step: 0, state: undefined };
  }

  step(data: Buffer | undefined): Maybe<AuthOutcome> {
    if (this.conv.step === 0 && !this.conv.reauth) {
      return then(this.auth.onConnect(this.client), (r) => (r !== null ? r : this.answer(data)));
    }
    return this.answer(data);
  }

  private answer(data: Buffer | undefined): Maybe<AuthOutcome> {
    const { hooks, client, method, conv } = this;
    for (const f of hooks.authObservers) {
      try { void f(client, method, data, conv.reauth, conv); } catch (err) { hooks.failed('onAuthPacket', err, client.clientId); }
    }
    let a: ReturnType<AuthServer>;
    try {
      a = this.server(client, method, data, conv.reauth, conv);
    } catch (err) {
      hooks.failed('onAuthPacket', err, client.clientId);
      return FAILED;
    } finally {
      conv.step++;
    }
    if (isThenable(a)) {
      return hooks.settle('onAuthPacket', this.server, a, FAILED_ANSWER, client.clientId).then((v) => (v === FAILED_ANSWER ? FAILED : this.auth.allowed(this.req, outcomeOfAnswer(v))));
    }
    return this.auth.allowed(this.req, outcomeOfAnswer(a));
  }
}

/** What a failing serving hook (threw, rejected, no answer in time) gets: 0x80, as a failing CONNECT check. */
const FAILED: AuthOutcome = Object.freeze({ reason: Reason.UNSPECIFIED_ERROR });
const FAILED_ANSWER: AuthAnswer = Object.freeze({ fail: Reason.UNSPECIFIED_ERROR });
const NO_SERVER: AuthExchange = { step: () => ({ reason: Reason.BAD_AUTHENTICATION_METHOD }) };

/** A refusal of the CONNECT points as the CONNACK's outcome. */
function outcomeOf(r: Refusal): AuthOutcome {
  return r.reasonString === undefined && r.serverReference === undefined ? { reason: r.fail } : { reason: r.fail, reasonString: r.reasonString, serverReference: r.serverReference };
}

/** The serving hook's answer as the handler's outcome; no answer (or not one of the three) refuses with 0x87. */
function outcomeOfAnswer(a: AuthAnswer | void): AuthOutcome {
  if (typeof a !== 'object' || a === null) return NOT_AUTHORIZED;
  if ('continue' in a) return { reason: Reason.CONTINUE_AUTHENTICATION, data: bytes(a.continue), reasonString: a.reasonString };
  if ('fail' in a) return { reason: refusalCode(a, Reason.NOT_AUTHORIZED), reasonString: a.reasonString, serverReference: a.serverReference };
  if ('success' in a) return { reason: Reason.SUCCESS, data: bytes(a.success), reasonString: a.reasonString };
  return NOT_AUTHORIZED;
}

const NOT_AUTHORIZED: AuthOutcome = Object.freeze({ reason: Reason.NOT_AUTHORIZED });

/** Authentication Data: a Buffer, or nothing (a `true` success carries none). */
function bytes(v: unknown): Buffer | undefined { return Buffer.isBuffer(v) ? v : undefined; }

/** f(v) now when v is a value, later when it is a promise. */
function then<T, R>(v: Maybe<T>, f: (t: T) => Maybe<R>): Maybe<R> {
  return isThenable(v) ? Promise.resolve(v).then(f) : f(v as T);
}

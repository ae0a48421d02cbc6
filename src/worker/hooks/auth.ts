// The CONNECT-time points as the shard's authentication hook: onConnect of the hooks, then the
// configured authenticator (users file, --auth-hook, allow-all; with a password file it only
// answers the file's SCRAM-SHA-256 exchange), then onConnectAuthenticate of the stack: the
// password file's first (auth/password-hook.ts), then the modules'. Wrapping the
// authentication hook keeps the CONNECT handler as it is.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from '../auth/hook.ts';
import type { HookClient } from './hook.ts';
import { isThenable, LazyClient, type HookRegistry } from './registry.ts';

export class HookedAuth implements AuthHook {
  private readonly base: AuthHook;
  private readonly hooks: HookRegistry;
  private readonly shard: number;

  constructor(base: AuthHook, hooks: HookRegistry, shard: number) {
    this.base = base;
    this.hooks = hooks;
    this.shard = shard;
  }

  /** A CONNECT's client as the points see it; its address is looked up only when read. */
  private client(req: AuthRequest): HookClient { return new LazyClient(req.clientId, req.username, req.version, this.shard, () => req.remote); }

  /** The client's user name, kept for HookClient once its CONNECT is allowed (not before: a refused one must not replace a connected client's). */
  private readonly allowed = (req: AuthRequest, o: AuthOutcome): AuthOutcome => {
    if (o.reason === Reason.SUCCESS) this.hooks.usernames.set(req.clientId, req.username);
    return o;
  };

  check(req: AuthRequest): Maybe<AuthOutcome> {
    return then(this.decide(req), (o) => this.allowed(req, o));
  }

  private decide(req: AuthRequest): Maybe<AuthOutcome> {
    const h = this.hooks.has;
    if (!h.onConnect && !h.onConnectAuthenticate) return this.base.check(req);
    const client = this.client(req);
    return then(h.onConnect ? this.hooks.decide('onConnect', Reason.NOT_AUTHORIZED, [client]) : 0, (code) => {
      if (code !== 0) return { reason: code };
      return then(this.base.check(req), (o) => {
        if (o.reason !== Reason.SUCCESS || !h.onConnectAuthenticate) return o;
        return then(this.hooks.decide('onConnectAuthenticate', Reason.BAD_USER_NAME_OR_PASSWORD, [client, req.password]), (c) => (c === 0 ? o : { reason: c }));
      });
    });
  }

  supportsMethod(method: string): boolean { return this.base.supportsMethod(method); }

  begin(method: string, req: AuthRequest, reauth: boolean): AuthExchange {
    const inner = this.base.begin(method, req, reauth);
    const client = this.client(req);
    return {
      step: (data) => {
        if (this.hooks.has.onAuthPacket) this.hooks.notify('onAuthPacket', NO_LOG, client, method, data);
        return then(inner.step(data), (o) => this.allowed(req, o));
      },
    };
  }
}

const NO_LOG = { warn(): void {} };

/** f(v) now when v is a value, later when it is a promise. */
function then<T, R>(v: Maybe<T>, f: (t: T) => Maybe<R>): Maybe<R> {
  return isThenable(v) ? Promise.resolve(v).then(f) : f(v as T);
}

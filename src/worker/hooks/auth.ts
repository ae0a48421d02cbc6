// The CONNECT-time points as the shard's authentication hook: the configured one (users file,
// --auth-hook, allow-all) decides first, then onConnect and onConnectAuthenticate of the hooks.
// Wrapping the authentication hook keeps the CONNECT handler as it is.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from '../auth/hook.ts';
import type { HookClient } from './hook.ts';
import { isThenable, type HookRegistry } from './registry.ts';

export class HookedAuth implements AuthHook {
  private readonly base: AuthHook;
  private readonly hooks: HookRegistry;
  private readonly shard: number;

  constructor(base: AuthHook, hooks: HookRegistry, shard: number) {
    this.base = base;
    this.hooks = hooks;
    this.shard = shard;
  }

  private client(req: AuthRequest): HookClient {
    return { clientId: req.clientId, username: req.username, address: req.remote, protocolVersion: req.version, shard: this.shard };
  }

  check(req: AuthRequest): Maybe<AuthOutcome> {
    this.hooks.usernames.set(req.clientId, req.username);
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
    this.hooks.usernames.set(req.clientId, req.username);
    const inner = this.base.begin(method, req, reauth);
    if (!this.hooks.has.onAuthPacket) return inner;
    const client = this.client(req);
    return {
      step: (data) => {
        this.hooks.notify('onAuthPacket', NO_LOG, client, method, data);
        return inner.step(data);
      },
    };
  }
}

const NO_LOG = { warn(): void {} };

/** f(v) now when v is a value, later when it is a promise. */
function then<T, R>(v: Maybe<T>, f: (t: T) => Maybe<R>): Maybe<R> {
  return isThenable(v) ? Promise.resolve(v).then(f) : f(v as T);
}

// A shard's stack of hooks: loaded from the configuration at start, asked in order. Per point the
// registry keeps the implementing hooks' methods in an array and a boolean, computed once, so a
// call site costs one property test when no hook implements its point.
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import type { HookSpec } from '../../shared/config.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { moduleUrl } from '../../shared/module-url.ts';
import { HOOK_POINTS, HookBase, type Hook, type HookClient, type HookContext, type HookFactory, type HookPoint, type Maybe, type Verdict } from './hook.ts';

type Fn = (...args: never[]) => unknown;

/**
 * Marks a built-in hook's bound methods: their promises are bounded by the hook itself (the
 * password file's hashing queue and its failed-login delays of up to 10 s, which are the point
 * and must not be cut short into a quicker refusal), so the registry does not time them out.
 */
const BUILTIN_FN = Symbol('shoal.builtinHook');

const BUILTIN: ReadonlyMap<string, string> = new Map([['shoal/hooks/http', './backends/http.ts'], ['shoal/hooks/redis', './backends/redis.ts'], ['shoal/hooks/postgres', './backends/postgres.ts']]);

/** A module specifier as import() in a shard takes it: paths are the working directory's (main's and the shards' are the same). */
export function hookUrl(spec: string): string {
  // The first-party hooks (backends/), by the names the package exports them under.
  const builtin = BUILTIN.get(spec);
  if (builtin !== undefined) return moduleUrl(builtin, import.meta.url).href;
  if (spec.startsWith('file:') || spec.startsWith('data:') || spec.startsWith('node:')) return spec;
  if (isAbsolute(spec) || spec.startsWith('./') || spec.startsWith('../')) return pathToFileURL(resolve(spec)).href;
  return spec; // a package name: resolved from Shoal's own location, so an installed package's neighbours
}

export class HookRegistry {
  private hooks: Hook[] = [];
  private readonly builtins = new WeakSet<Hook>();
  private readonly fns = new Map<HookPoint, Fn[]>();
  /** Per point: some hook implements it. */
  readonly has: Record<HookPoint, boolean> = Object.fromEntries(HOOK_POINTS.map((p) => [p, false])) as Record<HookPoint, boolean>;
  /** A PUBLISH from a client goes through publish.ts (ACL, onPublish, onPublished, onRetainMessage). */
  publishes = false;
  /** A SUBSCRIBE goes through subscribe.ts (ACL, onSubscribe). */
  subscribes = false;
  /** How long a decision that answers with a promise may take before it counts as a refusal. */
  timeoutMs = 5000;
  /** User names of the connected clients, by client id (HookClient.username). */
  readonly usernames = new Map<string, string | undefined>();

  /** Loads every hook module of the configuration, in order; throws CONFIG_INVALID naming the module. */
  async load(specs: readonly HookSpec[], context: HookContext): Promise<void> {
    this.timeoutMs = context.config.hookTimeout;
    for (const spec of specs) {
      let mod: Record<string, unknown>;
      try {
        mod = await import(hookUrl(spec.module)) as Record<string, unknown>;
      } catch (err) {
        throw new ShoalError(ErrorCode.CONFIG_INVALID, `hook ${spec.module}: ${(err as Error).message}`, { cause: err });
      }
      const factory = mod.default as HookFactory | undefined;
      if (typeof factory !== 'function') throw new ShoalError(ErrorCode.CONFIG_INVALID, `hook ${spec.module}: its default export is not a factory (options, context) => hook`);
      let hook: Hook;
      try {
        // A class (HookBase's subclasses) is constructed; a plain function is called.
        hook = /^class\b/.test(Function.prototype.toString.call(factory))
          ? new (factory as unknown as new (o: unknown, c: HookContext) => Hook)(spec.options, context)
          : await factory(spec.options, context);
      } catch (err) {
        throw new ShoalError(ErrorCode.CONFIG_INVALID, `hook ${spec.module}: its factory failed: ${(err as Error).message}`, { cause: err });
      }
      if (typeof hook !== 'object' || hook === null) throw new ShoalError(ErrorCode.CONFIG_INVALID, `hook ${spec.module}: its factory returned no hook object`);
      this.hooks.push(hook);
    }
    this.index();
  }

  /**
   * The broker's own hooks (the password file's, auth/password-hook.ts), placed before every
   * module's, in the order given: the files decide first, as comqtt's ledger does before the
   * user's hooks, so a module never hears of a client the files refused (docs/hooks.md, "Order").
   */
  prepend(...hooks: Hook[]): void {
    for (const h of hooks) this.builtins.add(h);
    this.hooks.unshift(...hooks);
    this.index();
  }

  /** Adds a hook at the end of the stack (the embedding API's events). */
  add(hook: Hook): void { this.hooks.push(hook); this.index(); }

  remove(hook: Hook): void { this.hooks = this.hooks.filter((h) => h !== hook); this.index(); }

  private index(): void {
    const base = HookBase.prototype as unknown as Record<string, unknown>;
    for (const p of HOOK_POINTS) {
      const list: Fn[] = [];
      for (const h of this.hooks) {
        const f = (h as Record<string, unknown>)[p];
        if (typeof f !== 'function' || f === base[p]) continue;
        const bound = (f as Fn).bind(h);
        if (this.builtins.has(h)) (bound as unknown as Record<symbol, boolean>)[BUILTIN_FN] = true;
        list.push(bound);
      }
      this.fns.set(p, list);
      this.has[p] = list.length > 0;
    }
    const h = this.has;
    this.publishes = h.onACLCheck || h.onPublish || h.onPublished || h.onRetainMessage;
    this.subscribes = h.onACLCheck || h.onSubscribe;
  }

  /** The implementing methods of `p`, in stacking order. */
  list<P extends HookPoint>(p: P): NonNullable<Hook[P]>[] { return this.fns.get(p) as unknown as NonNullable<Hook[P]>[]; }

  /** Calls an observing point on every hook; a hook that throws is logged, never the caller's failure. */
  notify<P extends HookPoint>(p: P, log: { warn(o: object, m: string): void }, ...args: Parameters<NonNullable<Hook[P]>>): void {
    for (const f of this.fns.get(p)!) {
      try { (f as (...a: unknown[]) => unknown)(...args); } catch (err) { log.warn({ err, point: p }, 'hook failed'); }
    }
  }

  /**
   * Every hook's verdict for `p` in turn, stopping at the first refusal: a reason code ≥ 0x80,
   * `refused` for false, 0 when all allow. Synchronous answers stay synchronous; a promise gets
   * the registry's timeout (then `refused`).
   */
  decide(p: 'onConnect' | 'onConnectAuthenticate' | 'onACLCheck', refused: number, args: unknown[]): Maybe<number> {
    return this.decideFrom(this.fns.get(p)! as ((...a: unknown[]) => Maybe<Verdict>)[], 0, refused, args);
  }

  /**
   * The rest of `p`'s verdict once the hook at `i` answered with `pending` (a caller that asks
   * the hooks itself, without an argument array, on its synchronous path: hooks/access.ts).
   */
  decideAfter(p: 'onACLCheck', i: number, pending: PromiseLike<Verdict>, refused: number, args: unknown[]): Promise<number> {
    const list = this.fns.get(p)! as ((...a: unknown[]) => Maybe<Verdict>)[];
    return this.within(pending, refused as Verdict).then((r) => { const code = verdictCode(r, refused); return code !== 0 ? code : this.decideFrom(list, i + 1, refused, args); });
  }

  private decideFrom(list: ((...a: unknown[]) => Maybe<Verdict>)[], i: number, refused: number, args: unknown[]): Maybe<number> {
    for (; i < list.length; i++) {
      const f = list[i]!;
      let v: Maybe<Verdict>;
      try { v = f(...args); } catch { return refused; }
      if (isThenable(v)) {
        const next = i + 1;
        const settled = BUILTIN_FN in f ? Promise.resolve(v).then((x) => x, () => refused) : this.within(v, refused);
        return settled.then((r) => { const code = verdictCode(r, refused); return code !== 0 ? code : this.decideFrom(list, next, refused, args); });
      }
      const code = verdictCode(v, refused);
      if (code !== 0) return code;
    }
    return 0;
  }

  /** `p` settled, or `fallback` after the timeout (or when it rejects). */
  within<T>(p: PromiseLike<T>, fallback: T): Promise<T> {
    return new Promise<T>((res) => {
      const t = setTimeout(() => res(fallback), this.timeoutMs);
      Promise.resolve(p).then((v) => { clearTimeout(t); res(v); }, () => { clearTimeout(t); res(fallback); });
    });
  }
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** 0 = allowed; else the reason code (false → `refused`; a code < 0x80 counts as allowed). */
export function verdictCode(v: unknown, refused: number): number {
  if (v === false) return refused;
  if (typeof v === 'number' && v >= 0x80) return v;
  return 0;
}

interface ClientConn { clientId: string; version: number; readonly remote: string }
const clients = new WeakMap<ClientConn, HookClient>();

/**
 * What a point is told of a connection's client: one object per connection, made on first use
 * (a publish does not allocate it again). The address is read when a hook reads it: it is a
 * getpeername() syscall.
 */
export function clientOf(conn: ClientConn, shard: number, usernames: ReadonlyMap<string, string | undefined>): HookClient {
  let c = clients.get(conn);
  if (c === undefined || c.clientId !== conn.clientId) {
    c = new LazyClient(conn.clientId, usernames.get(conn.clientId), conn.version, shard, () => conn.remote);
    clients.set(conn, c);
  }
  return c;
}

/**
 * A client as the points see it, whose address is looked up only when a hook reads it (for a
 * connection it is a getpeername() syscall). Private fields: not copied by a spread or by
 * structured clone (plainClient makes the copy).
 */
export class LazyClient implements HookClient {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly protocolVersion: number;
  readonly shard: number;
  readonly #lookup: () => string;
  #addr: string | null = null;
  constructor(clientId: string, username: string | undefined, protocolVersion: number, shard: number, address: () => string) {
    this.clientId = clientId;
    this.username = username;
    this.protocolVersion = protocolVersion;
    this.shard = shard;
    this.#lookup = address;
  }
  get address(): string { return (this.#addr ??= this.#lookup()); }
  toJSON(): HookClient { return plainClient(this); }
}

/** A HookClient as a plain object (for a message to main, or JSON). */
export function plainClient(c: HookClient): HookClient {
  return { clientId: c.clientId, username: c.username, address: c.address, protocolVersion: c.protocolVersion, shard: c.shard };
}

// A shard's stack of hooks: loaded from the configuration at start, asked in order. Per point the
// registry keeps the implementing hooks' methods in an array and a boolean, computed once, so a
// call site costs one property test when no hook implements its point.
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import type { HookSpec } from '../../shared/config.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { moduleUrl } from '../../shared/module-url.ts';
import type { Logger } from 'pino';
import { HOOK_POINTS, HookBase, type AuthAnswer, type AuthConversation, type Hook, type HookClient, type HookContext, type HookFactory, type HookPoint, type Maybe, type Refusal, type Verdict } from './hook.ts';

type Fn = (...args: never[]) => unknown;

/**
 * A hook with this property set to true bounds its own promises (the files' hooks: the password
 * file's hashing queue and its failed-login delays of up to 10 s, which are the point and must
 * not be cut short into a quicker refusal), so the registry does not time them out. Its bound
 * methods carry BOUNDED_FN.
 */
export const SELF_BOUNDED = Symbol('shoal.selfBounded');
const BOUNDED_FN = Symbol('shoal.boundedFn');

/** The hook serving one Authentication Method: its onAuthPacket, bound. */
export type AuthServer = (client: HookClient, method: string, data: Buffer | undefined, reauth: boolean, conversation: AuthConversation) => Maybe<AuthAnswer | void>;

/** A hook that fails (throws, rejects, or answers after the timeout) is logged in at most FAILURE_LINES lines per point each FAILURE_LOG_MS. */
const FAILURE_LOG_MS = 1000;
const FAILURE_LINES = 5;

const NO_LOG: Pick<Logger, 'warn'> = { warn(): void {} };

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
  private readonly fns = new Map<HookPoint, Fn[]>();
  /** The hooks serving Authentication Methods, in stacking order (onAuthPacket answers for them). */
  private servers: { hook: Hook; fn: AuthServer }[] = [];
  /** onAuthPacket of the hooks that serve no method: they observe every exchange's steps. */
  authObservers: AuthServer[] = [];
  private log: Pick<Logger, 'warn'> = NO_LOG;
  private readonly failureLogged = new Map<string, { at: number; lines: number; left: number }>();
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
    this.log = context.log;
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
      // Methods without an answering onAuthPacket are served by nobody (0x8C): say so once, not per shard.
      const serves = hook.authMethods !== undefined || typeof hook.supportsAuthMethod === 'function';
      if (serves && typeof hook.onAuthPacket !== 'function' && context.shard === 0) {
        context.log.warn({ hook: spec.module }, `hook ${spec.module}: declares authentication methods but has no onAuthPacket; those methods get 0x8C`);
      }
      this.hooks.push(hook);
    }
    this.index();
  }

  /**
   * The broker's own hooks (the password or users file's, then --auth-hook's: auth/create.ts),
   * placed before every module's, in the order given: the files decide first, as comqtt's ledger
   * does before the user's hooks, so neither --auth-hook nor a module hears of a client the files
   * refused (docs/hooks.md, "Order").
   */
  prepend(...hooks: Hook[]): void {
    this.hooks.unshift(...hooks);
    this.index();
  }

  /** Adds a hook at the end of the stack (the embedding API's events). */
  add(hook: Hook): void { this.hooks.push(hook); this.index(); }

  remove(hook: Hook): void { this.hooks = this.hooks.filter((h) => h !== hook); this.index(); }

  private index(): void {
    const base = HookBase.prototype as unknown as Record<string, unknown>;
    this.servers = [];
    this.authObservers = [];
    for (const p of HOOK_POINTS) {
      const list: Fn[] = [];
      for (const h of this.hooks) {
        const f = (h as Record<string, unknown>)[p];
        if (typeof f !== 'function' || f === base[p]) continue;
        const bound = (f as Fn).bind(h);
        if ((h as { [SELF_BOUNDED]?: boolean })[SELF_BOUNDED] === true) (bound as unknown as Record<symbol, boolean>)[BOUNDED_FN] = true;
        list.push(bound);
        if (p === 'onAuthPacket') {
          if (h.authMethods !== undefined || typeof h.supportsAuthMethod === 'function') this.servers.push({ hook: h, fn: bound as AuthServer });
          else this.authObservers.push(bound as AuthServer);
        }
      }
      this.fns.set(p, list);
      this.has[p] = list.length > 0;
    }
    const h = this.has;
    this.publishes = h.onACLCheck || h.onPublish || h.onPublished || h.onRetainMessage;
    this.subscribes = h.onACLCheck || h.onSubscribe;
  }

  /** The onAuthPacket of the first hook serving `method`, or null (CONNACK 0x8C). */
  authServer(method: string): AuthServer | null {
    for (const s of this.servers) {
      const h = s.hook;
      if (h.authMethods?.includes(method) === true) return s.fn;
      if (typeof h.supportsAuthMethod === 'function') {
        try { if (h.supportsAuthMethod(method) === true) return s.fn; } catch (err) { this.failed('supportsAuthMethod', err); }
      }
    }
    return null;
  }

  /** Whether `f`'s hook bounds its own promises (SELF_BOUNDED). */
  static bounded(f: Function): boolean { return BOUNDED_FN in f; }

  /**
   * A hook failed at `point` (threw, rejected, or did not answer in time: `err` undefined): one
   * warn line each, at most 5 a second per point, then one with the count of those left out, so
   * a hook failing on every PUBLISH cannot flood the log.
   */
  failed(point: string, err: unknown, client?: string): void {
    const now = Date.now();
    let w = this.failureLogged.get(point);
    if (w === undefined || now - w.at >= FAILURE_LOG_MS) {
      const left = w?.left ?? 0;
      w = { at: now, lines: 0, left: 0 };
      this.failureLogged.set(point, w);
      if (left > 0) this.log.warn({ point, notLogged: left }, `hook ${point}: ${left} more failures were not logged`);
    }
    if (w.lines >= FAILURE_LINES) { w.left++; return; }
    w.lines++;
    const why = err === undefined ? `no answer within the hook timeout (${this.timeoutMs} ms)` : 'it threw or rejected';
    this.log.warn({ err, point, client }, `hook ${point} failed: ${why}`);
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
   * the registry's timeout. A hook that throws, rejects or times out refuses with `refused`
   * (logged: failed()).
   */
  decide(p: 'onACLCheck', refused: number, args: unknown[]): Maybe<number> {
    return this.decideFrom(p, this.fns.get(p)! as Decider[], 0, refused, refused, args, false) as Maybe<number>;
  }

  /**
   * decide() for the CONNECT points: 0 when all allow, else the Refusal (a plain code becomes
   * `{ fail }`), so a Reason String or Server Reference reaches the CONNACK. A hook that fails
   * refuses with 0x80 Unspecified error (3.1.1: code 3, server unavailable): the broker could
   * not decide, which is not a wrong password.
   */
  decideConnect(p: 'onConnect' | 'onConnectAuthenticate', refused: number, args: unknown[]): Maybe<0 | Refusal> {
    return this.decideFrom(p, this.fns.get(p)! as Decider[], 0, refused, UNSPECIFIED_ERROR, args, true) as Maybe<0 | Refusal>;
  }

  /**
   * The rest of `p`'s verdict once the hook at `i` answered with `pending` (a caller that asks
   * the hooks itself, without an argument array, on its synchronous path: hooks/access.ts).
   */
  decideAfter(p: 'onACLCheck', i: number, pending: PromiseLike<Verdict>, refused: number, args: unknown[]): Promise<number> {
    const list = this.fns.get(p)! as Decider[];
    return this.settle(p, list[i]!, pending, refused).then((r) => { const code = verdictCode(r, refused); return code !== 0 ? code : this.decideFrom(p, list, i + 1, refused, refused, args, false) as Maybe<number>; });
  }

  private decideFrom(p: HookPoint, list: Decider[], i: number, refused: number, failed: number, args: unknown[], full: boolean): Maybe<number | Refusal> {
    for (; i < list.length; i++) {
      const f = list[i]!;
      let v: Maybe<Verdict>;
      try { v = f(...args); } catch (err) { this.failed(p, err); return full ? { fail: failed } : failed; }
      if (isThenable(v)) {
        const next = i + 1;
        return this.settle(p, f, v, FAILED).then((r) => {
          const out = r === FAILED ? (full ? { fail: failed } : failed) : full ? refusalOf(r, refused) : verdictCode(r, refused);
          return out !== 0 ? out : this.decideFrom(p, list, next, refused, failed, args, full);
        });
      }
      const out = full ? refusalOf(v, refused) : verdictCode(v, refused);
      if (out !== 0) return out;
    }
    return 0;
  }

  /** A hook's promise from `f`, settled: its value, or `fallback` when it rejects or (unless self-bounded) times out, logged. */
  settle<T>(point: HookPoint, f: Function, v: PromiseLike<T>, fallback: T, client?: string): Promise<T> {
    const onError = (err: unknown): T => { this.failed(point, err ?? new Error('rejected'), client); return fallback; };
    if (HookRegistry.bounded(f)) return Promise.resolve(v).then((x) => x, onError);
    return this.within(v, fallback, (err) => this.failed(point, err, client));
  }

  /** `p` settled, or `fallback` after the timeout (or when it rejects); `failed` is told which (undefined: the timeout). */
  within<T>(p: PromiseLike<T>, fallback: T, failed?: (err: unknown) => void): Promise<T> {
    return new Promise<T>((res) => {
      const t = setTimeout(() => { failed?.(undefined); res(fallback); }, this.timeoutMs);
      Promise.resolve(p).then((v) => { clearTimeout(t); res(v); }, (err: unknown) => { clearTimeout(t); failed?.(err ?? new Error('rejected')); res(fallback); });
    });
  }
}

type Decider = (...a: unknown[]) => Maybe<Verdict>;

const UNSPECIFIED_ERROR = 0x80;
/** A hook's promise that failed (settle's fallback). */
const FAILED = Symbol('failed') as unknown as Verdict;

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** 0 = allowed; else the reason code (false → `refused`; a code < 0x80 counts as allowed; a Refusal's `fail`, `refused` when below 0x80). */
export function verdictCode(v: unknown, refused: number): number {
  if (v === false) return refused;
  if (typeof v === 'number' && v >= 0x80) return v;
  if (typeof v === 'object' && v !== null && 'fail' in v) return refusalCode(v as Refusal, refused);
  return 0;
}

/** A Refusal's reason code: `fail` when it is one (≥ 0x80), else `refused`. */
export function refusalCode(r: Refusal, refused: number): number {
  return typeof r.fail === 'number' && r.fail >= 0x80 ? r.fail : refused;
}

/** verdictCode() keeping a Refusal's Reason String and Server Reference: 0 or a Refusal. */
function refusalOf(v: unknown, refused: number): 0 | Refusal {
  if (typeof v === 'object' && v !== null && 'fail' in v) {
    const r = v as Refusal;
    const code = refusalCode(r, refused);
    return code === r.fail ? r : { ...r, fail: code };
  }
  const code = verdictCode(v, refused);
  return code === 0 ? 0 : { fail: code };
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

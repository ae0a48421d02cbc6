// What the first-party backends share: reading their options with one-line refusals, the
// per-shard verdict cache (a TTL and a size bound), the timeout every question to the backend
// gets, and the outage state (logged once per outage).

import { BACKENDS, BackendStat, backendStat, type BackendName, type StatsBlock } from '../../../shared/stats.ts';

/** Options of a backend module, as the configuration gave them. */
export type BackendOptions = Readonly<Record<string, unknown>>;

/** Reads option `key` (or `fallback` when absent); throws naming the module and the option. */
export function option<T>(module: string, o: BackendOptions, key: string, ok: (v: unknown) => boolean, fallback: T, what: string): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (!ok(v)) throw new Error(`${module}: options.${key} must be ${what}`);
  return v as T;
}

export const isCount = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
export const isPositive = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;

/** The options every backend has: the request timeout, what a failure answers, the cache. */
export function commonOptions(module: string, o: BackendOptions): { timeoutMs: number; onErrorAllows: boolean; cache: VerdictCache } {
  return {
    timeoutMs: option(module, o, 'timeoutMs', isPositive, 2000, 'a positive integer'),
    onErrorAllows: option<'deny' | 'allow'>(module, o, 'onError', (v) => v === 'deny' || v === 'allow', 'deny', '"deny" or "allow"') === 'allow',
    cache: new VerdictCache(option(module, o, 'cacheTtlMs', isCount, 30_000, 'an integer ≥ 0'), option(module, o, 'cacheSize', isPositive, 10_000, 'a positive integer')),
  };
}

/** Bounded map of verdicts with their expiry (insertion order is age order). */
export class VerdictCache {
  private readonly map = new Map<string, { allow: boolean; until: number }>();
  private readonly ttl: number;
  private readonly size: number;
  constructor(ttl: number, size: number) { this.ttl = ttl; this.size = size; }
  get(key: string, now: number): boolean | undefined {
    if (this.ttl <= 0) return undefined;
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.until <= now) { this.map.delete(key); return undefined; }
    return e.allow;
  }
  set(key: string, allow: boolean, now: number): void {
    if (this.ttl <= 0) return;
    this.map.delete(key);
    this.map.set(key, { allow, until: now + this.ttl });
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
  }
}

/** A question to the backend that did not answer within the backend's timeout. */
export class BackendTimeout extends Error {
  constructor(ms: number) { super(`no answer within ${ms} ms`); this.name = 'BackendTimeout'; }
}

/** `p`, or a BackendTimeout rejection after `ms` (the question itself may go on; its answer is ignored). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((res, rej) => {
    const t = setTimeout(() => rej(new BackendTimeout(ms)), ms);
    p.then((v) => { clearTimeout(t); res(v); }, (err: unknown) => { clearTimeout(t); rej(err); });
  });
}

/**
 * A backend's verdicts: cached answers first; else the question, bounded by the timeout, its
 * answer cached; a failure or timeout answers `onError` (not cached) and marks the outage.
 */
export class Decisions {
  private readonly cache: VerdictCache;
  private readonly timeoutMs: number;
  private readonly onErrorAllows: boolean;
  readonly outage: Outage;
  constructor(opts: { cache: VerdictCache; timeoutMs: number; onErrorAllows: boolean }, outage: Outage) {
    this.cache = opts.cache;
    this.timeoutMs = opts.timeoutMs;
    this.onErrorAllows = opts.onErrorAllows;
    this.outage = outage;
  }
  decide(key: string, ask: () => Promise<boolean>): boolean | Promise<boolean> {
    const cached = this.cache.get(key, Date.now());
    if (cached !== undefined) return cached;
    return this.ask(key, ask);
  }
  private async ask(key: string, ask: () => Promise<boolean>): Promise<boolean> {
    const asked = this.outage.asked();
    try {
      const allow = await withTimeout(ask(), this.timeoutMs);
      this.outage.ok(asked);
      this.cache.set(key, allow, Date.now());
      return allow;
    } catch (err) {
      this.outage.failed(err, this.onErrorAllows, asked);
      return this.onErrorAllows;
    }
  }
}

// Where the backends of this thread count (the shard's row of the shared stats block, which
// main reads for /metrics and $SYS); set by the shard before it loads its hooks. Unset (a hook
// built outside a shard, e.g. in a unit test): nothing is counted, the log still says it.
let sink: { stats: StatsBlock; shard: number } | null = null;
export function countBackendsIn(stats: StatsBlock, shard: number): void { sink = { stats, shard }; }

function isTimeout(err: unknown): boolean {
  // Ours (withTimeout), fetch's AbortSignal.timeout, pg's and ioredis's own timeouts.
  const e = err as { name?: unknown; message?: unknown } | null;
  return err instanceof BackendTimeout || e?.name === 'TimeoutError' || /timed? ?out|timeout/i.test(String(e?.message ?? ''));
}

/**
 * A backend's health as this shard sees it: each question and each failure counted (stats
 * block: BackendStat), and the outage logged once when it starts and once when it ends (not
 * per CONNECT). Only a question asked after the last change of state changes it again: a slow
 * backend answers some questions and times out others, out of order, and an older question's
 * late answer (or late timeout) would otherwise end the outage or start it again, so that one
 * outage was logged twice.
 */
export class Outage {
  private down = false;
  /** Questions asked so far (and failures seen without a question), and the one that last changed the state. */
  private questions = 0;
  private changedBy = 0;
  private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void };
  private readonly what: string;
  private readonly slot: number;
  constructor(log: Outage['log'], backend: BackendName, what: string) {
    this.log = log;
    this.what = what;
    this.slot = BACKENDS.indexOf(backend);
  }
  private count(stat: number, delta: number, set = false): void {
    if (sink === null) return;
    if (set) sink.stats.set(sink.shard, backendStat(this.slot, stat), delta);
    else sink.stats.add(sink.shard, backendStat(this.slot, stat), delta);
  }
  /** Counts a question; its number goes to `ok` with the answer. */
  asked(): number { this.count(BackendStat.REQUESTS, 1); return ++this.questions; }
  /** Question `asked` failed; without one (the client's own error event), a failure seen now. */
  failed(err: unknown, answer: boolean, asked = ++this.questions): void {
    this.count(isTimeout(err) ? BackendStat.TIMEOUTS : BackendStat.ERRORS, 1);
    if (this.down || asked <= this.changedBy) return;
    this.down = true;
    this.changedBy = asked;
    this.count(BackendStat.DOWN, 1, true);
    this.log.warn({ err: (err as Error).message, answer: answer ? 'allow' : 'deny' }, `${this.what} unreachable or too slow`);
  }
  /** Question `asked` (asked()'s number) was answered. */
  ok(asked: number): void {
    if (!this.down || asked <= this.changedBy) return;
    this.down = false;
    this.changedBy = asked;
    this.count(BackendStat.DOWN, 0, true);
    this.log.info({}, `${this.what} answers again`);
  }
}

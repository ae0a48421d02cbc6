// First-party hook: authentication and ACL decided by a web service, like mosquitto-go-auth's
// HTTP backend and EMQX's HTTP authn/authz. Load it as `shoal/hooks/http`:
//
//   hooks:
//     - module: shoal/hooks/http
//       options: {url: "http://127.0.0.1:8080/mqtt", timeoutMs: 2000, cacheTtlMs: 30000}
//
// Each decision is one POST of JSON {action, clientId, username, password, address, topic} to
// `url` (or `connectUrl` / `aclUrl` when given): action "connect" (CONNECT with the password as
// text; onConnectAuthenticate, so anonymous clients are decided by the broker's own rules) or
// "publish" / "subscribe" (onACLCheck). 2xx allows, any other status denies. A service that
// does not answer within `timeoutMs`, or cannot be reached, gets `onError` ("deny" by default,
// or "allow"), logged once per outage. Verdicts are cached per shard for `cacheTtlMs` (0 = no
// cache), at most `cacheSize` entries (the oldest go first); errors are not cached.
import { createHash } from 'node:crypto';
import type { Hook, HookClient, HookContext } from '../hook.ts';

interface Options {
  url?: string;
  connectUrl?: string;
  aclUrl?: string;
  timeoutMs?: number;
  cacheTtlMs?: number;
  cacheSize?: number;
  onError?: 'deny' | 'allow';
  headers?: Record<string, string>;
}

type Action = 'connect' | 'publish' | 'subscribe';

/** Bounded map of verdicts with their expiry (insertion order is age order). */
class VerdictCache {
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

function option<T>(o: Options, key: keyof Options, ok: (v: unknown) => boolean, fallback: T, what: string): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (!ok(v)) throw new Error(`shoal/hooks/http: options.${key} must be ${what}`);
  return v as T;
}

export default function httpBackend(raw: unknown, context: HookContext): Hook {
  const o = (raw ?? {}) as Options;
  const url = option<string | undefined>(o, 'url', (v) => typeof v === 'string', undefined, 'a URL');
  const connectUrl = option(o, 'connectUrl', (v) => typeof v === 'string', url, 'a URL');
  const aclUrl = option(o, 'aclUrl', (v) => typeof v === 'string', url, 'a URL');
  if (connectUrl === undefined && aclUrl === undefined) throw new Error('shoal/hooks/http: needs options.url (or connectUrl / aclUrl)');
  for (const u of [connectUrl, aclUrl]) if (u !== undefined) new URL(u); // a bad URL fails the start, not each request
  const isCount = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  const timeoutMs = option(o, 'timeoutMs', (v) => isCount(v) && (v as number) > 0, 2000, 'a positive integer');
  const cache = new VerdictCache(option(o, 'cacheTtlMs', isCount, 30_000, 'an integer ≥ 0'), option(o, 'cacheSize', (v) => isCount(v) && (v as number) > 0, 10_000, 'a positive integer'));
  const onError = option<'deny' | 'allow'>(o, 'onError', (v) => v === 'deny' || v === 'allow', 'deny', '"deny" or "allow"') === 'allow';
  const headers = { 'content-type': 'application/json', ...option(o, 'headers', (v) => typeof v === 'object' && v !== null, {}, 'an object of header names to values') };
  const log = context.log;
  let down = false;

  async function ask(target: string, action: Action, client: HookClient, password: string | undefined, topic: string | undefined): Promise<boolean> {
    // The password enters the cache key only as a digest: the cache keeps no secret.
    const key = `${action}\u0000${client.clientId}\u0000${client.username ?? ''}\u0000${topic ?? ''}\u0000${password === undefined ? '' : createHash('sha256').update(password).digest('base64')}`;
    const now = Date.now();
    const cached = cache.get(key, now);
    if (cached !== undefined) return cached;
    const body = JSON.stringify({ action, clientId: client.clientId, username: client.username ?? null, password: password ?? null, address: client.address, topic: topic ?? null });
    try {
      const res = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer().catch(() => undefined); // let the connection be reused
      if (down) { down = false; log.info({ url: target }, 'auth service answers again'); }
      const allow = res.status >= 200 && res.status < 300;
      cache.set(key, allow, Date.now());
      return allow;
    } catch (err) {
      if (!down) { down = true; log.warn({ url: target, err: (err as Error).message, answer: onError ? 'allow' : 'deny' }, 'auth service unreachable or too slow'); }
      return onError;
    }
  }

  const hook: Hook = {};
  if (connectUrl !== undefined) {
    hook.onConnectAuthenticate = (client, password) => (client.username === undefined && password === undefined ? true : ask(connectUrl, 'connect', client, password?.toString('utf8'), undefined));
  }
  if (aclUrl !== undefined) {
    hook.onACLCheck = (client, topic, write) => ask(aclUrl, write ? 'publish' : 'subscribe', client, undefined, topic);
  }
  return hook;
}

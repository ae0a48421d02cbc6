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
import { commonOptions, Decisions, option, Outage, type BackendOptions } from './common.ts';

const MODULE = 'shoal/hooks/http';

type Action = 'connect' | 'publish' | 'subscribe';

export default function httpBackend(raw: unknown, context: HookContext): Hook {
  const o = (raw ?? {}) as BackendOptions;
  const isText = (v: unknown): boolean => typeof v === 'string';
  const url = option<string | undefined>(MODULE, o, 'url', isText, undefined, 'a URL');
  const connectUrl = option(MODULE, o, 'connectUrl', isText, url, 'a URL');
  const aclUrl = option(MODULE, o, 'aclUrl', isText, url, 'a URL');
  if (connectUrl === undefined && aclUrl === undefined) throw new Error(`${MODULE}: needs options.url (or connectUrl / aclUrl)`);
  for (const u of [connectUrl, aclUrl]) if (u !== undefined) new URL(u); // a bad URL fails the start, not each request
  const common = commonOptions(MODULE, o);
  const timeoutMs = common.timeoutMs;
  const headers = { 'content-type': 'application/json', ...option<Record<string, string>>(MODULE, o, 'headers', (v) => typeof v === 'object' && v !== null, {}, 'an object of header names to values') };
  const decisions = new Decisions(common, new Outage(context.log, 'http', 'auth service'));

  function ask(target: string, action: Action, client: HookClient, password: string | undefined, topic: string | undefined): boolean | Promise<boolean> {
    // The password enters the cache key only as a digest: the cache keeps no secret.
    const key = `${action}\u0000${client.clientId}\u0000${client.username ?? ''}\u0000${topic ?? ''}\u0000${password === undefined ? '' : createHash('sha256').update(password).digest('base64')}`;
    return decisions.decide(key, async () => {
      const body = JSON.stringify({ action, clientId: client.clientId, username: client.username ?? null, password: password ?? null, address: client.address, topic: topic ?? null });
      const res = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer().catch(() => undefined); // let the connection be reused
      return res.status >= 200 && res.status < 300;
    });
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

// The admin HTTP server: a fixed route table, bearer auth on every route not marked open,
// JSON errors with stable codes. It runs on main and never touches the MQTT data path.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { startListening } from '../../shared/listen.ts';
import type { Authorizer } from './auth.ts';
import { sendError } from './respond.ts';

export type Method = 'GET' | 'POST' | 'DELETE';
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: Record<string, string>) => void | Promise<void>;

export interface Route {
  method: Method;
  /** A fixed path, or one with `{name}` segments (each one percent-decoded path segment: a topic's '/' comes as %2F). */
  path: string;
  /** Served without the token (only /health: a liveness probe must not need a secret). */
  open?: boolean;
  handler: Handler;
}

export interface HttpOptions {
  host: string;
  port: number;
  authorize: Authorizer;
  routes: readonly Route[];
  log: Logger;
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:9090 (IPv6 hosts in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

// An operator's tools, not the world: a small connection cap and short timeouts keep a flood
// or a stalled client from costing main more than a few sockets.
const MAX_CONNECTIONS = 128;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;

const UNAUTHORIZED = { 'www-authenticate': 'Bearer realm="shoal"' };

const TOKEN_COOKIE = 'shoal_token';

/** The token cookie as an Authorization value (undefined without one). */
function cookieToken(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  for (const part of cookie.split(';')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === TOKEN_COOKIE && v !== undefined) {
      try { return `Bearer ${decodeURIComponent(v)}`; } catch { return undefined; }
    }
  }
  return undefined;
}

export function urlOf(host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

export async function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const byPath = new Map<string, Map<string, Route>>();
  const patterns: { segments: string[]; methods: Map<string, Route> }[] = [];
  for (const r of opts.routes) {
    let m = byPath.get(r.path);
    if (m === undefined) {
      byPath.set(r.path, (m = new Map()));
      if (r.path.includes('{')) patterns.push({ segments: r.path.split('/'), methods: m });
    }
    m.set(r.method, r);
  }
  /** The route's methods and the path's `{name}` values; undefined for no such path. */
  function lookup(pathname: string): { methods: Map<string, Route>; params: Record<string, string> } | undefined {
    const fixed = byPath.get(pathname);
    if (fixed !== undefined && !pathname.includes('{')) return { methods: fixed, params: {} };
    const parts = pathname.split('/');
    for (const p of patterns) {
      if (p.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = p.segments[i]!;
        if (want.startsWith('{')) {
          try { params[want.slice(1, -1)] = decodeURIComponent(parts[i]!); } catch { ok = false; }
          if (parts[i] === '') ok = false;
        } else ok = want === parts[i];
      }
      if (ok) return { methods: p.methods, params };
    }
    return undefined;
  }

  const server = http.createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      opts.log.error({ err }, 'admin request failed');
      res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      // e.g. a request target of "//[": no route has such a path, and main must not throw for it.
      sendError(res, 400, ErrorCode.HTTP_BAD_REQUEST, 'malformed request target');
      return;
    }
    const found = lookup(url.pathname);
    const methods = found?.methods;
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? '';
    const route = methods?.get(method);
    // A browser cannot send a bearer token when it opens a page: /?token=T checks it once and
    // keeps it in a same-site, script-invisible cookie that later requests of the page carry.
    const login = url.pathname === '/' ? url.searchParams.get('token') : null;
    if (login !== null && opts.authorize(`Bearer ${login}`)) {
      res.writeHead(303, { location: '/', 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(login)}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    // Without the token nothing but open routes answers, not even which paths exist.
    if (route?.open !== true && !opts.authorize(req.headers.authorization) && !opts.authorize(cookieToken(req.headers.cookie))) {
      sendError(res, 401, ErrorCode.HTTP_UNAUTHORIZED, 'this endpoint needs "Authorization: Bearer <token>" (--http-token)', UNAUTHORIZED);
      return;
    }
    if (methods === undefined) { sendError(res, 404, ErrorCode.HTTP_NOT_FOUND, `no endpoint ${url.pathname}`); return; }
    if (route === undefined) {
      const allow = [...methods.keys()].join(', ');
      sendError(res, 405, ErrorCode.HTTP_METHOD_NOT_ALLOWED, `${url.pathname} takes ${allow}, not ${req.method}`, { allow });
      return;
    }
    try {
      await route.handler(req, res, url, found!.params);
    } catch (err) {
      opts.log.error({ err, path: url.pathname }, 'admin request failed');
      if (!res.headersSent) sendError(res, 500, ErrorCode.HTTP_INTERNAL, 'internal error (see the broker log)');
      else res.destroy();
    }
  }

  try {
    await startListening(server, { host: opts.host, port: opts.port, backlog: 511 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ShoalError(ErrorCode.LISTEN_FAILED, `cannot listen on ${opts.host}:${opts.port} (admin http): ${e.code ?? e.message}`, { cause: err });
  }
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: urlOf(opts.host, port),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

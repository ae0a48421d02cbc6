// The live dashboard at GET / of the admin port: one HTML page, its script, and uPlot (a small
// chart library) served from node_modules, so it works on a network without the internet. Live
// figures come over Server-Sent Events (sampler.ts); tables and actions use the REST API.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import uplotPkg from 'uplot/package.json' with { type: 'json' };
import type { Route } from '../server.ts';
import type { Sampler } from './sampler.ts';

const here = (name: string): string => readFileSync(new URL(name, import.meta.url), 'utf8');
const require = createRequire(import.meta.url);

interface Asset { type: string; body: string }

function assets(): Record<string, Asset> {
  const uplot = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  return {
    '/': { type: 'text/html; charset=utf-8', body: here('page.html').replaceAll('{{UPLOT_VERSION}}', uplotPkg.version) },
    '/dashboard/app.js': { type: 'text/javascript; charset=utf-8', body: here('app.js') },
    '/dashboard/uplot.js': { type: 'text/javascript; charset=utf-8', body: uplot('uPlot.iife.min.js') },
    '/dashboard/uplot.css': { type: 'text/css; charset=utf-8', body: uplot('uPlot.min.css') },
  };
}

function serve(res: ServerResponse, a: Asset): void {
  res.writeHead(200, {
    'content-type': a.type, 'content-length': Buffer.byteLength(a.body), 'cache-control': 'no-cache',
    // Nothing but this port: no inline script, no other origin.
    'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    'x-content-type-options': 'nosniff',
  });
  res.end(a.body);
}

const KEEPALIVE_MS = 15_000;

export function dashboardRoutes(sampler: Sampler): Route[] {
  const files = assets();
  const routes: Route[] = Object.entries(files).map(([path, a]) => ({ method: 'GET', path, handler: (_req, res) => serve(res, a) }));
  routes.push({
    method: 'GET', path: '/dashboard/events', handler: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      // The last 15 minutes first, then one sample a second.
      res.write(`event: history\ndata: ${JSON.stringify(sampler.history)}\n\n`);
      const off = sampler.subscribe((s) => res.write(`data: ${JSON.stringify(s)}\n\n`));
      const ping = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      ping.unref();
      const stop = (): void => { off(); clearInterval(ping); };
      req.on('close', stop);
      res.on('close', stop);
    },
  });
  return routes;
}

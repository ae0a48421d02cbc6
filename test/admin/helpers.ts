// Talking to the admin port of a real broker: plain HTTP requests (no connection reuse, so a
// test sees each answer as a new client would) and /metrics parsed by an exposition-format parser.
import assert from 'node:assert/strict';
import http from 'node:http';
import { getMetricsFromIterator, type PromData, type PromMetrics } from 'prom2javascript';
import { startBroker, type Broker, type BrokerOptions } from '../helpers/broker.ts';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

export function request(url: string, opts: { method?: string; token?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: false, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The broker with its admin port on any free port; `admin` is the URL from its start line. */
export async function startAdminBroker(opts: BrokerOptions = {}): Promise<Broker & { admin: string }> {
  const b = await startBroker({ ...opts, extraArgs: ['--http-port', '0', ...(opts.extraArgs ?? [])] });
  const admin = b.urls.http;
  if (admin === undefined) {
    await b.kill();
    throw new Error(`no http:// URL in the start line:\n${b.stdout()}`);
  }
  return Object.assign(b, { admin });
}

export interface Scrape {
  families: PromMetrics;
  /** Sum of the samples of `name` whose labels include `labels` (e.g. over shards); fails when none match. */
  value(name: string, labels?: Record<string, string>): number;
  /** Sum of every sample of `name`, 0 when it has none. */
  sum(name: string): number;
}

/** GET /metrics, parsed by a strict exposition-format parser (a malformed line is an error). */
export async function scrape(admin: string, token?: string): Promise<Scrape> {
  const a = await request(`${admin}/metrics`, { token });
  assert.equal(a.status, 200, a.text);
  assert.match(String(a.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const families = await getMetricsFromIterator(a.text.split('\n')[Symbol.iterator]());
  const matching = (name: string, labels: Record<string, string> = {}): number[] => {
    const f = families[name];
    assert.ok(f, `no metric ${name}`);
    return (f.data as PromData[]).filter((d) => Object.entries(labels).every(([k, v]) => d.labels[k] === v)).map((d) => d.value);
  };
  return {
    families,
    value: (name, labels) => {
      const vs = matching(name, labels);
      assert.ok(vs.length > 0, `no sample of ${name} with ${JSON.stringify(labels)}`);
      return vs.reduce((s, v) => s + v, 0);
    },
    sum: (name) => matching(name).reduce((s, v) => s + v, 0),
  };
}

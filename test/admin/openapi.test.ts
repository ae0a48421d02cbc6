// docs/api.yaml checked against a running broker: every documented operation answers with a
// documented status and a body its schema accepts (Ajv, JSON Schema 2020-12 as OpenAPI 3.1
// uses), each documented path allows exactly the documented methods, and no other known path
// (comqtt's REST paths included) answers at all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import type { Broker } from '../helpers/broker.ts';
import { request, startAdminBroker } from './helpers.ts';

interface Operation { security?: unknown[]; responses: Record<string, { $ref?: string; content?: Record<string, { schema: object }> }> }
interface ApiDoc { openapi: string; paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, { content: Record<string, { schema: object }> }>; schemas: Record<string, object> } }

const doc = parse(readFileSync(new URL('../../docs/api.yaml', import.meta.url), 'utf8')) as ApiDoc;
const TOKEN = 'openapi-check';
const API = 'https://shoal.invalid/api.yaml';
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

// Paths the admin port may serve one day (comqtt's mqtt/rest and issue #14's): any of them that
// answers must be in the document.
const KNOWN = [
  '/', '/health', '/ready', '/metrics',
  '/api/v1/mqtt/config', '/api/v1/mqtt/stat/overall', '/api/v1/mqtt/stat/online',
  '/api/v1/mqtt/clients', '/api/v1/mqtt/clients/someone', '/api/v1/mqtt/clients/someone/subscriptions/a%2Fb',
  '/api/v1/mqtt/subscriptions', '/api/v1/mqtt/topics', '/api/v1/mqtt/blacklist', '/api/v1/mqtt/blacklist/someone',
  '/api/v1/mqtt/message', '/api/v1/mqtt/retained', '/api/v1/mqtt/retained/a%2Fb',
  '/api/v1/bridges',
  '/api/v1/cluster/nodes', '/api/v1/cluster/stat/online', '/api/v1/cluster/clients/someone', '/api/v1/cluster/blacklist', '/api/v1/cluster/blacklist/someone',
];

const ajv = new Ajv2020({ strict: false, allErrors: true });
// The components as one schema document, so `#/components/...` references resolve against it.
ajv.addSchema({ $id: API, components: doc.components });
const withBase = (schema: object): object => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${API}#/components/`)) as object;

function responseOf(op: Operation, status: number): { content?: Record<string, { schema: object }> } | undefined {
  const r = op.responses[String(status)];
  if (r?.$ref !== undefined) return doc.components.responses[r.$ref.split('/').at(-1)!];
  return r;
}

describe('docs/api.yaml against the admin port', () => {
  let b: Broker & { admin: string };
  before(async () => { b = await startAdminBroker({ shards: 4, extraArgs: ['--http-token', TOKEN] }); });
  after(async () => { await b?.stop(); });

  test('is OpenAPI 3.1', () => {
    assert.match(doc.openapi, /^3\.1\./);
    assert.ok(Object.keys(doc.paths).length >= 6);
  });

  test('every documented operation answers as documented, with and without the token', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!METHODS.includes(method)) continue; // path-level `parameters`
        for (const token of [TOKEN, undefined]) {
          const a = await request(`${b.admin}${path}`, { method: method.toUpperCase(), token });
          const what = `${method.toUpperCase()} ${path} ${token ? 'with' : 'without'} the token`;
          const r = responseOf(op, a.status);
          assert.ok(r, `${what}: status ${a.status} is not documented`);
          if (token === undefined && !(op.security?.length === 0)) assert.equal(a.status, 401, what);
          if (a.status === 204) { assert.equal(a.text, '', `${what}: 204 with a body`); assert.equal(r.content, undefined); continue; }
          const type = String(a.headers['content-type']).split(';')[0]!;
          const media = r.content?.[type];
          assert.ok(media, `${what}: content type ${type} is not documented for ${a.status}`);
          const body = type === 'application/json' ? a.json() : a.text;
          const validate = ajv.compile(withBase(media.schema));
          assert.ok(validate(body), `${what}: ${ajv.errorsText(validate.errors)}\n${a.text.slice(0, 500)}`);
        }
      }
    }
  });

  test('each documented path allows exactly the documented methods', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const documented = Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => m.toUpperCase()).sort();
      const other = METHODS.map((m) => m.toUpperCase()).find((m) => !documented.includes(m))!;
      const a = await request(`${b.admin}${path}`, { method: other, token: TOKEN });
      assert.equal(a.status, 405, `${other} ${path}`);
      assert.deepEqual(String(a.headers.allow).split(', ').sort(), documented, `Allow of ${path}`);
    }
  });

  // A documented path template ({id}, {topic}: one segment each) that the request path fills.
  const templated = (path: string): boolean => Object.keys(doc.paths).some((t) =>
    new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));

  test('no undocumented path answers', async () => {
    for (const path of [...KNOWN, '/api/v1/mqtt/clients/a/b', '/api/v1/mqtt/retained/a/b', '/api/v1/mqtt/blacklist/a/b']) {
      const documented = templated(path);
      const a = await request(`${b.admin}${path}`, { token: TOKEN });
      if (!documented) assert.equal(a.status, 404, `${path} answers ${a.status} but is not in docs/api.yaml`);
    }
  });
});

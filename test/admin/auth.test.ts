// Access to the admin port: a bearer token (--http-token or SHOAL_HTTP_TOKEN) on everything but
// /health, 401 JSON without it; no port at all without --http-port.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type Broker } from '../helpers/broker.ts';
import { request, startAdminBroker } from './helpers.ts';

const TOKEN = 'tok-3f9c1e0b7a';
const GUARDED = ['/ready', '/metrics', '/api/v1/mqtt/config', '/api/v1/mqtt/stat/overall', '/api/v1/mqtt/stat/online', '/no/such/path'];

function assertUnauthorized(a: { status: number; headers: Record<string, unknown>; json(): unknown }, what: string): void {
  assert.equal(a.status, 401, what);
  assert.match(String(a.headers['content-type']), /^application\/json/, what);
  assert.equal(a.headers['www-authenticate'], 'Bearer realm="shoal"', what);
  assert.equal((a.json() as { code: string }).code, 'SHOAL_HTTP_UNAUTHORIZED', what);
}

describe('admin port with --http-token', () => {
  let b: Broker & { admin: string };
  before(async () => { b = await startAdminBroker({ extraArgs: ['--http-token', TOKEN] }); });
  after(async () => { await b?.stop(); });

  test('/health answers without the token', async () => {
    const a = await request(`${b.admin}/health`);
    assert.equal(a.status, 200);
    assert.equal((a.json() as { status: string }).status, 'ok');
  });

  test('every other path is 401 JSON without the token, with another token or another scheme', async () => {
    for (const path of GUARDED) {
      assertUnauthorized(await request(`${b.admin}${path}`), `${path} without a header`);
      assertUnauthorized(await request(`${b.admin}${path}`, { token: 'tok-3f9c1e0b7b' }), `${path} with a token differing in the last byte`);
      assertUnauthorized(await request(`${b.admin}${path}`, { token: TOKEN.slice(0, -1) }), `${path} with a prefix of the token`);
      assertUnauthorized(await request(`${b.admin}${path}`, { token: `${TOKEN}x` }), `${path} with the token and more`);
      assertUnauthorized(await request(`${b.admin}${path}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } }), `${path} with Basic auth`);
    }
  });

  test('the token opens every path (unknown ones are 404 then)', async () => {
    for (const path of GUARDED) {
      const a = await request(`${b.admin}${path}`, { token: TOKEN });
      if (path === '/no/such/path') {
        assert.equal(a.status, 404);
        assert.equal((a.json() as { code: string }).code, 'SHOAL_HTTP_NOT_FOUND');
      } else {
        assert.equal(a.status, 200, `${path}: ${a.text}`);
      }
    }
    // The scheme is case-insensitive (RFC 7235).
    assert.equal((await request(`${b.admin}/ready`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
  });

  test('the configuration shown masks the token', async () => {
    const a = await request(`${b.admin}/api/v1/mqtt/config`, { token: TOKEN });
    assert.equal(a.status, 200);
    assert.ok(!a.text.includes(TOKEN), 'the token appears in /api/v1/mqtt/config');
    assert.equal((a.json() as { shoal: { httpToken: string } }).shoal.httpToken, '********');
  });
});

describe('admin port token from SHOAL_HTTP_TOKEN', () => {
  test('the environment variable guards the port like the flag', async () => {
    process.env.SHOAL_HTTP_TOKEN = TOKEN; // the broker's environment is this process's
    let b: (Broker & { admin: string }) | undefined;
    try {
      b = await startAdminBroker();
    } finally {
      delete process.env.SHOAL_HTTP_TOKEN;
    }
    try {
      assertUnauthorized(await request(`${b.admin}/metrics`), '/metrics without a header');
      assert.equal((await request(`${b.admin}/metrics`, { token: TOKEN })).status, 200);
      assert.equal((await request(`${b.admin}/health`)).status, 200);
    } finally {
      await b.stop();
    }
  });
});

describe('admin port without a token', () => {
  test('answers every path (it listens on 127.0.0.1 unless told otherwise)', async () => {
    const b = await startAdminBroker();
    try {
      assert.match(b.admin, /^http:\/\/127\.0\.0\.1:\d+$/);
      for (const path of GUARDED.slice(0, -1)) assert.equal((await request(`${b.admin}${path}`)).status, 200, path);
    } finally {
      await b.stop();
    }
  });

  test('is off without --http-port', async () => {
    const b = await startBroker();
    try {
      assert.doesNotMatch(b.stdout(), /http:\/\//);
      assert.doesNotMatch(b.stderr(), /admin HTTP/);
    } finally {
      await b.stop();
    }
  });
});

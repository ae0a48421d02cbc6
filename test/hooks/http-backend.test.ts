// shoal/hooks/http against a real HTTP server in this process: CONNECT and ACL decisions by
// status code, the JSON it posts, the per-shard cache, a slow service answered "deny" within the
// timeout (and logged), and a service that is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker } from '../../src/index.ts';
import { Collector, connect, connectClient, eventually } from '../helpers/clients.ts';

interface Req { action: string; clientId: string; username: string | null; password: string | null; address: string; topic: string | null }

async function service(): Promise<{ url: string; requests: Req[]; close(): Promise<void> }> {
  const requests: Req[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const r = JSON.parse(body) as Req;
      requests.push(r);
      const answer = (code: number): void => { res.statusCode = code; res.end(); };
      if (r.action === 'connect') {
        if (r.username === 'slow') { setTimeout(() => answer(200), 1500); return; }
        answer(r.username === 'alice' && r.password === 'pw' ? 200 : 401);
      } else answer(r.topic!.startsWith('ok/') ? 200 : 403);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mqtt`;
  return { url, requests, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())); } };
}

test('shoal/hooks/http: CONNECT and ACL by the service\'s status, cached per shard, slow or down means deny within the timeout', async () => {
  const svc = await service();
  const broker = await createBroker({ host: '127.0.0.1', port: 0, shards: 2, accept: 'main', persistence: 'memory', logLevel: 'silent',
    hooks: [{ module: 'shoal/hooks/http', options: { url: svc.url, timeoutMs: 300, cacheTtlMs: 60_000 } }] });
  let closed = false;
  try {
    await broker.listen();
    const url = `mqtt://127.0.0.1:${broker.address()!.port}`;
    await assert.rejects(connectClient(url, { version: 5, username: 'bob', password: 'nope' }), (e: Error & { code?: number }) => e.code === 0x86);
    await assert.rejects(connectClient(url, { version: 4, username: 'bob', password: 'nope' }), (e: Error & { code?: number }) => e.code === 4);
    const alice = await connect(url, { version: 5, clientId: 'alice-1', username: 'alice', password: 'pw' });
    const connectReq = svc.requests.find((r) => r.clientId === 'alice-1')!;
    assert.equal(connectReq.action, 'connect');
    assert.equal(connectReq.password, 'pw');
    assert.match(connectReq.address, /^127\.0\.0\.1:\d+$/);

    const got = new Collector(alice);
    const suback = await alice.subscribeAsync({ 'ok/#': { qos: 1 }, 'no/#': { qos: 1 } }).then(() => null, (e: { packet?: { granted: number[] } }) => e.packet);
    assert.deepEqual(suback?.granted, [1, 0x87]);
    await assert.rejects(alice.publishAsync('no/x', 'x', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
    for (let i = 0; i < 5; i++) await alice.publishAsync('ok/x', `m${i}`, { qos: 1 });
    await eventually(() => got.messages.length === 5, 3000, 'five deliveries');
    // The verdict for (alice-1, publish, ok/x) was asked once: the rest came from the shard's cache.
    assert.equal(svc.requests.filter((r) => r.action === 'publish' && r.topic === 'ok/x').length, 1);
    // Read checks: the two filters at SUBSCRIBE, and ok/x once at delivery (onACLCheck at delivery;
    // the first delivery had the SUBSCRIBE verdict while it was asked, the next ones the cache's).
    assert.deepEqual(svc.requests.filter((r) => r.action === 'subscribe').map((r) => r.topic), ['ok/#', 'no/#', 'ok/x']);

    // A service slower than timeoutMs: refused within it, not after the service's 1.5 s.
    const t0 = Date.now();
    await assert.rejects(connectClient(url, { version: 5, username: 'slow', password: 'x' }), (e: Error & { code?: number }) => e.code === 0x86);
    assert.ok(Date.now() - t0 < 1200, `refused after ${Date.now() - t0} ms`);

    // Anonymous clients are the broker's own rules' business: no request.
    const before = svc.requests.length;
    (await connect(url, { version: 5, clientId: 'anon' })).end(true);
    assert.equal(svc.requests.filter((r) => r.clientId === 'anon' && r.action === 'connect').length, 0);
    assert.ok(svc.requests.length >= before);

    // Down: every new decision is "deny", at once.
    await svc.close();
    closed = true;
    await assert.rejects(connectClient(url, { version: 5, username: 'alice', password: 'other' }), (e: Error & { code?: number }) => e.code === 0x86);
    alice.end(true);
  } finally {
    if (!closed) await svc.close();
    await broker.close();
  }
});

test('shoal/hooks/http: bad options stop the start with one line naming the option', async () => {
  await assert.rejects(createBroker({ host: '127.0.0.1', port: 0, shards: 1, persistence: 'memory', logLevel: 'silent', hooks: [{ module: 'shoal/hooks/http', options: { timeoutMs: 5 } }] }),
    (e: Error & { code?: string }) => e.code === 'SHOAL_CONFIG_INVALID' && /needs options\.url/.test(e.message));
  await assert.rejects(createBroker({ host: '127.0.0.1', port: 0, shards: 1, persistence: 'memory', logLevel: 'silent', hooks: [{ module: 'shoal/hooks/http', options: { url: 'http://x/', onError: 'maybe' } }] }),
    (e: Error & { code?: string }) => /options\.onError must be "deny" or "allow"/.test(e.message));
});

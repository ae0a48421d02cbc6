// The seam for REST requests that need the shards' answers (src/main/admin/shard-query.ts):
// every shard is asked at once, each answer bounded by one deadline; a shard that is down,
// slow or fails makes the answer partial and says which and why, never a hang. The shard side
// comes with the worker redesign, so the shards here are in-process stand-ins with the
// behaviours that matter (answer, never answer, throw, down).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gather, partialHeaders, sendGathered, type ShardAsker } from '../../src/main/admin/shard-query.ts';
import { request } from './helpers.ts';

type Behaviour = 'answer' | 'hang' | 'throw' | 'reject' | 'down' | 'late';

function shards(behaviours: Behaviour[], seen: AbortSignal[] = []): ShardAsker<string, string> {
  return {
    count: behaviours.length,
    isUp: (i) => behaviours[i] !== 'down',
    ask(i, query, signal) {
      seen.push(signal);
      switch (behaviours[i]) {
        case 'answer': return Promise.resolve(`${query}@${i}`);
        case 'late': return new Promise((r) => setTimeout(() => r(`${query}@${i} late`), 50));
        case 'hang': return new Promise(() => {});
        case 'throw': throw new Error(`shard ${i} threw`);
        case 'reject': return Promise.reject(new Error(`shard ${i} refused`));
        default: throw new Error('asked a shard that is down');
      }
    },
  };
}

test('all shards answer: every answer in shard order, nothing missing', async () => {
  const g = await gather(shards(['late', 'answer', 'answer', 'late']), 'q', 1000);
  assert.deepEqual(g.answers, [{ shard: 0, value: 'q@0 late' }, { shard: 1, value: 'q@1' }, { shard: 2, value: 'q@2' }, { shard: 3, value: 'q@3 late' }]);
  assert.deepEqual(g.missing, []);
  assert.deepEqual(partialHeaders(g.missing), {});
});

test('a shard that never answers costs the deadline, not a hang; its request is aborted', async () => {
  const signals: AbortSignal[] = [];
  const t0 = Date.now();
  const g = await gather(shards(['answer', 'hang', 'answer', 'hang'], signals), 'q', 200);
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
  assert.deepEqual(g.answers.map((a) => a.shard), [0, 2]);
  assert.deepEqual(g.missing, [{ shard: 1, reason: 'timeout' }, { shard: 3, reason: 'timeout' }]);
  assert.ok(signals.every((s) => s.aborted), 'the shards were told to give up');
});

test('down, throwing and rejecting shards are reported with their reason; the others still answer', async () => {
  const t0 = Date.now();
  const g = await gather(shards(['down', 'throw', 'answer', 'reject']), 'q', 5000);
  assert.ok(Date.now() - t0 < 1000, 'no waiting for the deadline when every shard has settled');
  assert.deepEqual(g.answers, [{ shard: 2, value: 'q@2' }]);
  assert.deepEqual(g.missing, [{ shard: 0, reason: 'down' }, { shard: 1, reason: 'error', message: 'shard 1 threw' }, { shard: 3, reason: 'error', message: 'shard 3 refused' }]);
  assert.deepEqual(partialHeaders(g.missing), { 'x-shoal-partial': 'true', 'x-shoal-missing-shards': '0=down,1=error,3=error' });
});

test('asking some shards only', async () => {
  const g = await gather(shards(['answer', 'hang', 'answer', 'down']), 'q', 100, [0, 2]);
  assert.deepEqual(g.answers.map((a) => a.shard), [0, 2]);
  assert.deepEqual(g.missing, []);
});

test('over HTTP: a partial answer is 200 with the comqtt body and the partial headers; none at all is 503 JSON', async () => {
  const server = http.createServer((req, res) => {
    const b = req.url === '/none' ? ['down', 'hang'] as Behaviour[] : ['answer', 'hang', 'down', 'answer'] as Behaviour[];
    void gather(shards(b), 'clients', 100).then((g) => sendGathered(res, g, g.answers.map((a) => a.value)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const some = await request(`${base}/some`);
    assert.equal(some.status, 200);
    assert.deepEqual(some.json(), ['clients@0', 'clients@3']);
    assert.equal(some.headers['x-shoal-partial'], 'true');
    assert.equal(some.headers['x-shoal-missing-shards'], '1=timeout,2=down');
    const none = await request(`${base}/none`);
    assert.equal(none.status, 503);
    assert.equal((none.json() as { code: string }).code, 'SHOAL_HTTP_SHARDS_UNAVAILABLE');
    assert.equal(none.headers['x-shoal-missing-shards'], '0=down,1=timeout');
  } finally {
    server.close();
  }
});

// A backend's outage is logged once: answers that arrive out of order (a slow backend answers
// some questions late and times out others) must not end an outage that a later question found,
// nor start again one that a later question found over. Regression: "redis unreachable" was
// logged twice on one shard in one outage, under load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decisions, Outage, VerdictCache } from '../../src/worker/hooks/backends/common.ts';

function outageLog(): { lines: string[]; log: ConstructorParameters<typeof Outage>[0] } {
  const lines: string[] = [];
  return { lines, log: { warn: (_o, m) => { lines.push(m); }, info: (_o, m) => { lines.push(m); } } };
}

/** A question whose answer the test gives when it wants. */
function pending(): { promise: Promise<boolean>; allow: () => void; fail: () => void } {
  let allow!: () => void;
  let fail!: () => void;
  const promise = new Promise<boolean>((res, rej) => { allow = () => res(true); fail = () => rej(new Error('ECONNREFUSED')); });
  return { promise, allow, fail };
}

test('backend outage: an older question answering late does not end the outage a newer one found', async () => {
  const { lines, log } = outageLog();
  const d = new Decisions({ cache: new VerdictCache(0, 10), timeoutMs: 5000, onErrorAllows: false }, new Outage(log, 'redis', 'redis'));
  const old = pending();
  const newer = pending();
  const a = d.decide('a', () => old.promise);
  const b = d.decide('b', () => newer.promise);
  newer.fail();
  assert.equal(await b, false);
  old.allow(); // asked before the outage was found: says nothing of the backend now
  assert.equal(await a, true);
  const again = pending();
  const c = d.decide('c', () => again.promise);
  again.fail();
  await c;
  assert.deepEqual(lines, ['redis unreachable or too slow'], 'one outage, one line');
  const back = pending();
  const e = d.decide('e', () => back.promise);
  back.allow();
  await e;
  assert.deepEqual(lines, ['redis unreachable or too slow', 'redis answers again']);
});

test('backend outage: an older question failing late does not start again an outage a newer one ended', async () => {
  const { lines, log } = outageLog();
  const outage = new Outage(log, 'redis', 'redis');
  const d = new Decisions({ cache: new VerdictCache(0, 10), timeoutMs: 5000, onErrorAllows: false }, outage);
  const old = pending();
  const a = d.decide('a', () => old.promise);
  outage.failed(new Error('connection lost'), false); // the client's own error event
  const back = pending();
  const b = d.decide('b', () => back.promise);
  back.allow();
  await b;
  old.fail(); // the question from before the outage, failed with it, reported after recovery
  await a;
  assert.deepEqual(lines, ['redis unreachable or too slow', 'redis answers again']);
  const down = pending();
  const c = d.decide('c', () => down.promise);
  down.fail();
  await c;
  assert.deepEqual(lines, ['redis unreachable or too slow', 'redis answers again', 'redis unreachable or too slow'], 'a new outage is logged');
});

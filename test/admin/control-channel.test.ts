// Main's end of the control channel with stand-in ports: answers matched by sequence number,
// a shard that exits fails its questions, a question past its deadline is forgotten (no leak),
// and a late answer to it is ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlChannel, type ShardPorts } from '../../src/main/control/channel.ts';
import { BrokerControl } from '../../src/main/control/index.ts';
import type { ControlFromShard, ControlToShard } from '../../src/shared/control.ts';

type Answer = Extract<ControlFromShard, { type: 'answer' }>;

function ports(n: number) {
  const sent: { shard: number; msg: ControlToShard }[] = [];
  const up = Array.from({ length: n }, () => true);
  let listener: (shard: number, a: Answer | null) => void = () => {};
  const p: ShardPorts = {
    count: n,
    isUp: (i) => up[i]!,
    post: (shard, msg) => { sent.push({ shard, msg }); },
    onAnswer: (l) => { listener = l; },
  };
  const answer = (shard: number, seq: number, value: unknown): void => listener(shard, { type: 'answer', seq, ok: true, value });
  return { p, sent, up, answer, exit: (shard: number) => listener(shard, null) };
}

const seqOf = (m: ControlToShard): number => (m as { seq: number }).seq;

test('answers go to their question; an exit fails the shard\'s questions; a deadline forgets one', async () => {
  const t = ports(2);
  const ch = new ControlChannel(t.p);
  const ac = new AbortController();
  const a0 = ch.ask(0, { op: 'banned' }, ac.signal);
  const a1 = ch.ask(1, { op: 'banned' }, ac.signal);
  assert.equal(t.sent.length, 2);
  t.answer(1, seqOf(t.sent[1]!.msg), ['x']);
  assert.deepEqual(await a1, ['x']);
  t.exit(0);
  await assert.rejects(a0, /shard 0 exited/);
  const slow = new AbortController();
  const a2 = ch.ask(1, { op: 'banned' }, slow.signal);
  slow.abort();
  await assert.rejects(a2, /deadline/);
  assert.equal(ch.waiting, 0);
  t.answer(1, seqOf(t.sent[2]!.msg), ['late']); // ignored
  t.up[0] = false;
  await assert.rejects(ch.ask(0, { op: 'banned' }, ac.signal), /down/);
});

test('BrokerControl merges the shards\' pages in id order and marks a silent shard missing', async () => {
  const t = ports(3);
  const control = new BrokerControl(new ControlChannel(t.p), 200);
  const pending = control.clients('', 1, 2);
  await new Promise((r) => setImmediate(r));
  const item = (id: string, shard: number) => ({ id, shard });
  t.answer(0, seqOf(t.sent[0]!.msg), { items: [item('b', 0), item('d', 0)], total: 2 });
  t.answer(2, seqOf(t.sent[2]!.msg), { items: [item('a', 2), item('c', 2)], total: 5 });
  const r = await pending; // shard 1 never answers
  assert.deepEqual(r.value.items.map((c) => c.id), ['b', 'c']);
  assert.equal(r.value.total, 7);
  assert.deepEqual(r.missing, [{ shard: 1, reason: 'timeout' }]);
  assert.equal((t.sent[0]!.msg as { query: { limit: number } }).query.limit, 3, 'each shard is asked for offset + limit');
});

// Differential property test: random valid filters and topics (seeded), the trie against
// topicMatches against a naive split-based reference written straight from the spec text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie, topicMatches } from '../../src/shared/topics/trie.ts';
import { validateTopicFilter, validateTopicName } from '../../src/shared/topics/validate.ts';

function reference(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // this level and all below, or the parent when t has no level i
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

// A small alphabet of levels so filters and topics actually collide, empty and '$' ones included.
const LEVELS = ['a', 'b', 'c', '', 'ab', '$SYS', '$x', 'é', '東京', 'b2'];

function randomTopic(r: (n: number) => number): string {
  const depth = 1 + r(5);
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) parts.push(LEVELS[r(LEVELS.length)]);
  return parts.join('/');
}

function randomFilter(r: (n: number) => number): string {
  const depth = 1 + r(5);
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) {
    const x = r(10);
    if (x < 3) parts.push('+');
    else if (x === 3 && i === depth - 1) parts.push('#');
    else parts.push(LEVELS[r(LEVELS.length)]);
  }
  return parts.join('/');
}

test('property: trie.match, topicMatches and the reference agree on random filters and topics', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed * 7919);
    const filters = new Set<string>();
    while (filters.size < 400) {
      const f = randomFilter(r);
      if (validateTopicFilter(f) === null) filters.add(f); // only '' is rejected
    }
    const trie = new TopicTrie<string>();
    for (const f of filters) trie.add(f, 'k', f);
    let positives = 0;
    for (let i = 0; i < 2000; i++) {
      const topic = randomTopic(r);
      if (validateTopicName(topic) !== null) continue;
      const expected = [...filters].filter((f) => reference(f, topic)).sort();
      const viaMatches = [...filters].filter((f) => topicMatches(f, topic)).sort();
      const viaTrie: string[] = [];
      trie.match(topic, (v, _k, f) => { assert.equal(v, f); viaTrie.push(f); });
      viaTrie.sort();
      assert.deepEqual(viaMatches, expected, `topicMatches, seed ${seed}, topic ${JSON.stringify(topic)}`);
      assert.deepEqual(viaTrie, expected, `trie, seed ${seed}, topic ${JSON.stringify(topic)}`);
      positives += expected.length;
    }
    assert.ok(positives > 2000, `seed ${seed}: too few matches to be meaningful (${positives})`);
  }
});

test('property: the trie stays equal to a plain map under random add/remove', () => {
  const r = rng(424242);
  const trie = new TopicTrie<number>();
  const model = new Map<string, number>(); // "filter\u0000key" → value
  for (let step = 0; step < 20_000; step++) {
    const f = randomFilter(r);
    const key = `c${r(8)}`;
    const id = `${f}\u0000${key}`;
    if (r(3) === 0) {
      assert.equal(trie.remove(f, key), model.delete(id), `remove ${id}`);
    } else {
      assert.equal(trie.add(f, key, step), !model.has(id), `add ${id}`);
      model.set(id, step);
    }
    if (step % 1000 === 0) {
      assert.equal(trie.size, model.size);
      const topic = randomTopic(r);
      const got: string[] = [];
      trie.match(topic, (v, k, filter) => got.push(`${filter}\u0000${k}=${v}`));
      const want = [...model].filter(([id2]) => reference(id2.split('\u0000')[0], topic)).map(([id2, v]) => `${id2}=${v}`);
      assert.deepEqual(got.sort(), want.sort(), `match ${topic} at step ${step}`);
    }
  }
  const filters = new Set([...model.keys()].map((id) => id.split('\u0000')[0]));
  assert.deepEqual([...trie.filters()].sort(), [...filters].sort());
  for (const id of [...model.keys()]) {
    const [f, k] = id.split('\u0000');
    assert.ok(trie.remove(f, k));
  }
  assert.equal(trie.size, 0);
  assert.deepEqual([...trie.filters()], [], 'everything pruned');
});

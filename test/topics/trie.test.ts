import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie, topicMatches } from '../../src/shared/topics/trie.ts';

function matches<V>(trie: TopicTrie<V>, topic: string): string[] {
  const out: string[] = [];
  trie.match(topic, (_v, key, filter) => out.push(`${filter} ${key}`));
  return out.sort();
}

function trieOf(filters: string[]): TopicTrie<number> {
  const t = new TopicTrie<number>();
  filters.forEach((f, i) => t.add(f, `k${i}`, i));
  return t;
}

/** filters among `filters` the trie reports for `topic` */
function matched(filters: string[], topic: string): string[] {
  const t = trieOf(filters);
  const out = new Set<string>();
  t.match(topic, (_v, _k, f) => out.add(f));
  return [...out].sort();
}

// Spec §4.7.1.2 / §4.7.1.3 non-normative examples, checked on both the trie and topicMatches.
const EXAMPLES: [string, string, boolean][] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['#', '/', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'finance', true],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['a/b', 'a//b', false],
  ['a/b', 'a/b/', false],
  ['a/b/', 'a/b/', true],
  ['a/+', 'a/', true],
  ['a/#', 'a/', true],
  ['a/+/#', 'a', false],
  ['a/+/#', 'a/b', true],
  ['/#', '/', true],
  ['/#', 'a', false],
  ['Sport', 'sport', false],
  ['é/+', 'é/東京', true],
];

test('filter matching: the spec examples (§4.7.1.2, §4.7.1.3), trie and topicMatches agree', () => {
  for (const [filter, topic, expected] of EXAMPLES) {
    assert.equal(topicMatches(filter, topic), expected, `topicMatches(${filter}, ${topic})`);
    assert.deepEqual(matched([filter], topic), expected ? [filter] : [], `trie ${filter} vs ${topic}`);
  }
});

test("[MQTT-4.7.1-2] '#' matches the parent level and any number of levels below", () => {
  const t = trieOf(['a/#']);
  for (const topic of ['a', 'a/', 'a/b', 'a/b/c/d', 'a//']) assert.deepEqual(matches(t, topic), ['a/# k0'], topic);
  for (const topic of ['b', 'ab', 'b/a']) assert.deepEqual(matches(t, topic), [], topic);
});

test("[MQTT-4.7.1-3] '+' matches exactly one level, an empty one included", () => {
  const t = trieOf(['+/b', 'a/+']);
  assert.deepEqual(matches(t, '/b'), ['+/b k0']);
  assert.deepEqual(matches(t, 'a/'), ['a/+ k1']);
  assert.deepEqual(matches(t, 'a/b'), ['+/b k0', 'a/+ k1']);
  assert.deepEqual(matches(t, 'a/b/c'), []);
});

test('[MQTT-4.7.2-1] filters starting with a wildcard do not match $-topics', () => {
  const filters = ['#', '+/monitor/Clients', '+/#', '$SYS/#', '$SYS/monitor/+', '+'];
  assert.deepEqual(matched(filters, '$SYS/monitor/Clients'), ['$SYS/#', '$SYS/monitor/+']);
  assert.deepEqual(matched(filters, '$'), []);
  assert.deepEqual(matched(filters, '$SYS'), ['$SYS/#']);
  assert.ok(!topicMatches('#', '$SYS/x'));
  assert.ok(!topicMatches('+/x', '$SYS/x'));
  assert.ok(topicMatches('$SYS/#', '$SYS/x'));
  // only the first level is special: a '$' further down is an ordinary character
  assert.deepEqual(matched(['#', 'a/+'], 'a/$x'), ['#', 'a/+']);
});

test('trie add/get/remove: keys per filter, replace, prune', () => {
  const t = new TopicTrie<string>();
  assert.equal(t.add('a/b', 'c1', 'x'), true);
  assert.equal(t.add('a/b', 'c2', 'y'), true);
  assert.equal(t.add('a/b', 'c1', 'z'), false, 'same key replaces');
  assert.equal(t.get('a/b', 'c1'), 'z');
  assert.equal(t.size, 2);
  assert.ok(t.hasFilter('a/b'));
  assert.ok(!t.hasFilter('a'), 'an inner node is not a filter');
  assert.equal(t.remove('a/b', 'c3'), false);
  assert.equal(t.remove('a/c', 'c1'), false);
  assert.equal(t.remove('a/b', 'c1'), true);
  assert.equal(t.remove('a/b', 'c1'), false);
  assert.equal(t.get('a/b', 'c1'), undefined);
  assert.deepEqual(matches(t, 'a/b'), ['a/b c2']);
  assert.equal(t.remove('a/b', 'c2'), true);
  assert.equal(t.size, 0);
  assert.ok(!t.hasFilter('a/b'));
  assert.deepEqual([...t.filters()], []);
  assert.deepEqual(matches(t, 'a/b'), []);
});

test('trie: removing a leaf keeps the inner filters it hung from', () => {
  const t = trieOf(['a', 'a/b', 'a/b/c', 'a/+', 'a/#', '#']);
  t.remove('a/b/c', 'k2');
  t.remove('a/+', 'k3');
  assert.deepEqual([...t.filters()].sort(), ['#', 'a', 'a/#', 'a/b']);
  assert.deepEqual(matches(t, 'a/b'), ['# k5', 'a/# k4', 'a/b k1']);
  t.remove('a/b', 'k1');
  t.remove('a', 'k0');
  assert.deepEqual(matches(t, 'a'), ['# k5', 'a/# k4']);
  t.remove('a/#', 'k4');
  t.remove('#', 'k5');
  assert.equal(t.size, 0);
  assert.deepEqual(matches(t, 'a'), []);
});

test('trie: many keys on one filter (indexed past the linear threshold), removal in any order', () => {
  const t = new TopicTrie<number>();
  for (let i = 0; i < 100; i++) t.add('x/+', `c${i}`, i);
  assert.equal(t.size, 100);
  for (let i = 0; i < 100; i += 3) assert.ok(t.remove('x/+', `c${i}`));
  for (let i = 0; i < 100; i++) assert.equal(t.get('x/+', `c${i}`), i % 3 === 0 ? undefined : i);
  let n = 0;
  t.match('x/y', (v, k) => { n++; assert.equal(k, `c${v}`); });
  assert.equal(n, t.size);
  assert.equal(t.add('x/+', 'c1', -1), false);
  assert.equal(t.get('x/+', 'c1'), -1);
  assert.deepEqual(new Map(t.keysOf('x/+')).get('c1'), -1);
});

test('trie keysOf and filters list what was added', () => {
  const t = new TopicTrie<number>();
  t.add('a/#', 'p', 1);
  t.add('a/#', 'q', 2);
  t.add('b', 'p', 3);
  assert.deepEqual([...t.keysOf('a/#')].sort(), [['p', 1], ['q', 2]]);
  assert.deepEqual([...t.keysOf('nope')], []);
  assert.deepEqual([...t.filters()].sort(), ['a/#', 'b']);
  // keysOf is a snapshot: removing while iterating is safe
  for (const [k] of t.keysOf('a/#')) t.remove('a/#', k);
  assert.ok(!t.hasFilter('a/#'));
  t.clear();
  assert.equal(t.size, 0);
});

test('trie: a topic level that looks like a wildcard is literal in topics', () => {
  const t = trieOf(['a/+', 'a/b']);
  // a topic '+' cannot be published (validated earlier) but the matcher must not crash or misroute
  assert.deepEqual(matches(t, 'a/+'), ['a/+ k0']);
});

test('trie: levels that hash alike stay distinct', () => {
  // Whatever the seed, 10k distinct sibling levels exercise the collision chain logic.
  const t = new TopicTrie<number>();
  for (let i = 0; i < 10_000; i++) t.add(`r/${i}`, 'k', i);
  for (let i = 0; i < 10_000; i += 97) {
    const got: number[] = [];
    t.match(`r/${i}`, (v) => got.push(v));
    assert.deepEqual(got, [i]);
  }
  for (let i = 0; i < 10_000; i++) assert.ok(t.remove(`r/${i}`, 'k'));
  assert.equal(t.size, 0);
  assert.deepEqual([...t.filters()], []);
});

test('trie matchValues: the values match visits, remembered per topic and renewed by add, replace and remove', () => {
  const t = new TopicTrie<string>();
  const values = (topic: string) => [...t.matchValues(topic)].sort();
  assert.deepEqual(values('a/b'), []);
  t.add('a/+', 'k1', 'v1');
  t.add('a/#', 'k2', 'v2');
  t.add('#', 'k3', 'v3');
  t.add('a/c', 'k4', 'v4');
  const first = t.matchValues('a/b');
  assert.deepEqual([...first].sort(), ['v1', 'v2', 'v3']);
  assert.equal(t.matchValues('a/b'), first, 'the same array while nothing changes');
  assert.deepEqual(values('$SYS/x'), []);
  t.add('a/+', 'k1', 'v1b'); // replace
  assert.deepEqual(values('a/b'), ['v1b', 'v2', 'v3']);
  assert.deepEqual([...first].sort(), ['v1', 'v2', 'v3'], 'an array handed out is never changed');
  t.remove('#', 'k3');
  assert.deepEqual(values('a/b'), ['v1b', 'v2']);
  t.add('a/b', 'k5', 'v5');
  assert.deepEqual(values('a/b'), ['v1b', 'v2', 'v5']);
  const seen: string[] = [];
  t.match('a/b', (v) => seen.push(v));
  assert.deepEqual(seen.sort(), values('a/b'));
  t.clear();
  assert.deepEqual(values('a/b'), []);
});

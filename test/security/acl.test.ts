// The ACL file parser and the compiled checker: Mosquitto's acl_file syntax with its errors by
// line, Mosquitto 2.0's decision order (deny first, user section before patterns, anonymous
// section, %c / %u, '+'/'#' in names, $SYS), the SUBSCRIBE verdict, and the decision cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/shared/errors.ts';
import { Access, parseAclFile } from '../../src/shared/auth/acl-file.ts';
import { Acl, DecisionCache } from '../../src/shared/auth/acl.ts';
import { contains, meet } from '../../src/shared/auth/filter-sets.ts';

test('acl_file syntax: sections, access words, the readwrite default, spaces in names and filters, comments and blank lines', () => {
  const d = parseAclFile([
    '# comment', '', 'topic read public/#', 'topic anon/rw', 'topic read', '',
    'user alice smith  ', 'topic deny a/secret', 'topic write a/in box', 'pattern readwrite u/%u/#',
    'user bob', 'topic  readwrite  b/#', 'user alice smith', 'topic read a/more',
  ].join('\n'), 'acl');
  assert.deepEqual(d.anonymous.map((r) => [r.filter, r.access, r.line]), [['public/#', Access.READ, 3], ['anon/rw', Access.READWRITE, 4], ['read', Access.READWRITE, 5]]);
  assert.deepEqual(d.users.get('alice smith')!.map((r) => [r.filter, r.access]), [['a/secret', Access.DENY], ['a/in box', Access.WRITE], ['a/more', Access.READ]]);
  assert.deepEqual(d.users.get('bob')!.map((r) => [r.filter, r.access]), [['b/#', Access.READWRITE]]);
  assert.deepEqual(d.patterns.map((r) => [r.filter, r.access]), [['u/%u/#', Access.READWRITE]]);
  assert.deepEqual(parseAclFile('pattern read fixed/topic\n', 'acl').warnings, ['acl:1: pattern "fixed/topic" contains neither %c nor %u']);
});

test('acl_file errors name file and line (SHOAL_ACL_FILE_INVALID), for every line Mosquitto 2.0 refuses', () => {
  const cases: [string, RegExp][] = [
    ['  # indented comment', /acl:2: invalid line/],
    ['\ttopic read x', /acl:2: invalid line/],
    ['Topic read x', /acl:2: invalid line/],
    ['foo bar', /acl:2: invalid line/],
    ['topic', /acl:2: empty topic/],
    ['topic bogus a/b', /acl:2: invalid access type "bogus"/],
    ['topic read a/#/b', /acl:2: invalid topic filter "a\/#\/b"/],
    ['pattern read a+/b', /acl:2: invalid topic filter/],
    ['user', /acl:2: missing user name/],
    ['user    ', /acl:2: missing user name/],
    ['topic read ' + 'a/'.repeat(201) + 'b', /more than 200 levels/],
  ];
  for (const [line, re] of cases) {
    assert.throws(() => parseAclFile(`topic read ok\n${line}\n`, 'acl'), (e: Error & { code?: string }) => {
      assert.equal(e.code, ErrorCode.ACL_FILE_INVALID, line);
      assert.match(e.message, re, line);
      return true;
    }, line);
  }
  assert.throws(() => Acl.load('/nonexistent/acl'), (e: { code?: string }) => e.code === ErrorCode.ACL_FILE_INVALID);
});

const FILE = `
topic read public/#
topic write anon/in
user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read $SYS/broker/#
user bob
topic read shared/#
topic deny shared/alice/#
topic write shared/bob/status
pattern read devices/%c/cmd
pattern write devices/%c/state
pattern readwrite users/%u/#
pattern deny users/%u/locked
pattern read pre-%c/x
`;

test('decision order: deny beats grant in a section, the user section comes before patterns, access bits must match', () => {
  const acl = Acl.parse(FILE);
  const alice = acl.forClient('a1', 'alice');
  assert.equal(alice.canRead('alice/x'), true);
  assert.equal(alice.canPublish('alice/x'), true);
  assert.equal(alice.canRead('alice/secret/k'), false, 'deny listed after the grant still wins');
  assert.equal(alice.canPublish('alice/secret'), false, "'#' covers the parent level");
  assert.equal(alice.canRead('public/news'), false, 'the anonymous section is not for named users');
  const bob = acl.forClient('b1', 'bob');
  assert.equal(bob.canRead('shared/x/status'), true);
  assert.equal(bob.canRead('shared/alice/status'), false);
  assert.equal(bob.canPublish('shared/bob/status'), true);
  assert.equal(bob.canPublish('shared/x/status'), false, 'a read rule does not allow writing');
  assert.equal(bob.canRead('users/bob/inbox'), true, 'patterns apply to users with a section too');
  assert.equal(bob.canRead('users/bob/locked'), false, 'pattern deny beats pattern grant');
  assert.equal(bob.canRead('users/alice/inbox'), false, '%u is this user only');
  const anon = acl.forClient('anon1', undefined);
  assert.equal(anon.canRead('public/news'), true);
  assert.equal(anon.canPublish('public/news'), false);
  assert.equal(anon.canPublish('anon/in'), true);
  assert.equal(anon.canRead('users/anon1/inbox'), false, '%u rules are skipped without a user name');
  assert.equal(anon.canRead('devices/anon1/cmd'), true, '%c rules still apply');
  assert.equal(anon.canRead('pre-anon1/x'), true, '%c inside a level is substituted too (Mosquitto 2.0)');
  const carol = acl.forClient('dev7', 'carol');
  assert.equal(carol.canRead('devices/dev7/cmd'), true);
  assert.equal(carol.canPublish('devices/dev7/cmd'), false);
  assert.equal(carol.canPublish('devices/dev7/state'), true);
  assert.equal(carol.canRead('devices/dev8/cmd'), false);
  assert.equal(carol.canRead('other'), false, 'denied by default');
});

test("$SYS: read only by a rule starting with '$', never written; '#' and '+/...' rules do not reach '$' topics", () => {
  const acl = Acl.parse('topic readwrite #\ntopic read +/broker/uptime\nuser ops\ntopic readwrite $SYS/#\n');
  const anon = acl.forClient('c', undefined);
  assert.equal(anon.canRead('$SYS/broker/uptime'), false);
  assert.equal(anon.canRead('x/broker/uptime'), true);
  assert.equal(anon.canRead('$other/x'), false);
  const ops = acl.forClient('o', 'ops');
  assert.equal(ops.canRead('$SYS/broker/uptime'), true);
  assert.equal(ops.canPublish('$SYS/broker/uptime'), false, '$SYS is never written by clients');
  assert.equal(ops.canPublish('$SYS/broker/connection/b1/state'), true, 'except bridge state, which the rules decide');
  assert.equal(ops.subscribeVerdict('$SYS/#'), 'grant');
  assert.equal(anon.subscribeVerdict('$SYS/#'), 'deny');
  assert.equal(anon.subscribeVerdict('#'), 'grant', "'#' reaches no '$' topic, and every other one is readable");
});

test("a client id or user name with '+' or '#' gets nothing from patterns, one with '/' nothing from the patterns using it", () => {
  const acl = Acl.parse('user u+1\ntopic read own/#\npattern readwrite c/%c/#\npattern readwrite u/%u/#\n');
  const plusId = acl.forClient('dev+', 'x');
  assert.equal(plusId.canRead('c/dev+/a'), false);
  assert.equal(plusId.canRead('c/devX/a'), false, "'+' must not act as a wildcard");
  const hashUser = acl.forClient('ok', 'evil#');
  assert.equal(hashUser.canRead('u/evil#'), false);
  assert.equal(hashUser.canRead('c/ok/a'), false, 'Mosquitto refuses such a client every pattern');
  assert.equal(acl.forClient('ok', 'u+1').canRead('own/x'), true, 'its own topic rules still apply (they come first)');
  const slashId = acl.forClient('bob/x', 'bob');
  assert.equal(slashId.canRead('c/bob/x/a'), false, "'bob/x' must not reach into client bob's levels");
  assert.equal(acl.forClient('bob', 'bob').canRead('c/bob/x/a'), true);
  assert.equal(Acl.parse('pattern read u/%u/#\n').forClient('id/with/slash', 'u').canRead('u/u/t'), true, 'a pattern without %c ignores the id');
  assert.equal(Acl.parse('pattern read x/%u\n').forClient('c', '').canRead('x/'), false, 'an empty user name fills no level');
});

test('deny by default: an empty file, or a user without a section and no patterns, may do nothing', () => {
  assert.equal(Acl.parse('# nothing\n').forClient('c', undefined).canRead('a'), false);
  const acl = Acl.parse('user alice\ntopic readwrite #\n');
  assert.equal(acl.forClient('c', 'mallory').canPublish('a'), false);
  assert.equal(acl.forClient('c', undefined).subscribeVerdict('#'), 'deny');
});

test('filter sets: meet and contains follow MQTT matching, including the parent level of # and $ topics', () => {
  const m = (a: string, b: string) => meet(a.split('/'), b.split('/'))?.join('/') ?? null;
  assert.equal(m('a/+/c', '+/b/#'), 'a/b/c');
  assert.equal(m('a/#', 'a'), 'a');
  assert.equal(m('a/#', '+/x/#'), 'a/x/#');
  assert.equal(m('a/b', 'a/c'), null);
  assert.equal(m('#', '$SYS/x'), null);
  assert.equal(m('+/x', '$SYS/x'), null);
  assert.equal(m('$SYS/#', '$SYS/+'), '$SYS/+');
  const c = (outer: string, inner: string) => contains(outer.split('/'), inner.split('/'));
  assert.equal(c('a/#', 'a'), true);
  assert.equal(c('a/#', 'a/+/b'), true);
  assert.equal(c('a/+', 'a/#'), false);
  assert.equal(c('a/+', 'a/b'), true);
  assert.equal(c('a/b', 'a/+'), false);
  assert.equal(c('#', '$SYS/x'), false);
  assert.equal(c('+/#', '+/x'), true);
  assert.equal(c('a', 'a/#'), false);
});

test('SUBSCRIBE verdict: deny when no read rule can match a topic of the filter, grant when the filter lies inside, partial otherwise', () => {
  const acl = Acl.parse(FILE);
  const alice = acl.forClient('a1', 'alice');
  assert.equal(alice.subscribeVerdict('alice/#'), 'partial', 'alice/secret/# inside is denied');
  assert.equal(alice.subscribeVerdict('alice/x/+'), 'grant');
  assert.equal(alice.subscribeVerdict('alice/secret/+'), 'deny', 'wholly inside a deny rule');
  assert.equal(alice.subscribeVerdict('nothing/here'), 'deny');
  assert.equal(alice.subscribeVerdict('#'), 'partial');
  assert.equal(alice.subscribeVerdict('+/x'), 'partial', 'alice/x is readable');
  assert.equal(alice.subscribeVerdict('users/alice/+'), 'partial', 'the pattern deny takes users/alice/locked');
  assert.equal(alice.subscribeVerdict('users/alice/inbox'), 'grant');
  assert.equal(alice.subscribeVerdict('users/alice/locked'), 'deny');
  assert.equal(alice.subscribeVerdict('$share/g/alice/x/#'), 'grant', 'a shared subscription is judged by its filter');
  assert.equal(alice.subscribeVerdict('$share/g/other'), 'deny');
  const bob = acl.forClient('b1', 'bob');
  assert.equal(bob.subscribeVerdict('shared/alice/#'), 'deny');
  assert.equal(bob.subscribeVerdict('shared/+/status'), 'partial');
  assert.equal(bob.subscribeVerdict('shared/bob/#'), 'grant');
  // every verdict agrees with canRead on sample topics
  const topics = ['alice/x', 'alice/secret/k', 'users/alice/inbox', 'users/alice/locked', 'shared/x/status', 'other'];
  for (const [client, filters] of [[alice, ['alice/#', 'alice/x/+', 'alice/secret/+', '#', 'users/alice/+']], [bob, ['shared/alice/#', 'shared/+/status', 'shared/bob/#']]] as const) {
    for (const f of filters) {
      const v = client.subscribeVerdict(f);
      const matching = topics.filter((t) => new RegExp('^' + f.replace(/\+/g, '[^/]*').replace(/\/#$/, '(/.*)?').replace(/^#$/, '.*') + '$').test(t));
      if (v === 'grant') assert.ok(matching.every((t) => client.canRead(t)), f);
      if (v === 'deny') assert.ok(matching.every((t) => !client.canRead(t)), f);
    }
  }
});

test('decision cache: answers as canRead does, never holds more than its bound, evicts the oldest', () => {
  const acl = new Acl(parseAclFile('topic read a/#\n'), { decisionCacheSize: 4 });
  const c = acl.forClient('c', undefined);
  for (let i = 0; i < 100; i++) assert.equal(c.canReadCached(`a/${i}`), true);
  assert.equal(c.canReadCached('b/1'), false);
  assert.equal(c.canReadCached('b/1'), false);
  const cache = new DecisionCache(3);
  cache.set('x', true); cache.set('y', false); cache.set('z', true); cache.set('w', true);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('x'), undefined);
  assert.equal(cache.get('y'), false);
  cache.set('y', true);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('y'), true);
});

test('SUBSCRIBE verdict agrees with canRead over every topic of a small universe, for 300 random ACL files and filters', async () => {
  const { topicMatches } = await import('../../src/shared/topics/trie.ts');
  let seed = 12345;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const universe: string[] = [];
  const grow = (prefix: string[], depth: number) => {
    if (prefix.length > 0) universe.push(prefix.join('/'));
    if (depth === 0) return;
    for (const l of prefix.length === 0 ? ['a', 'b', 'c', '$S'] : ['a', 'b', 'c']) grow([...prefix, l], depth - 1);
  };
  grow([], 4);
  const randomFilter = () => {
    const n = 1 + rnd(3);
    const levels = Array.from({ length: n }, (_, i) => pick(i === 0 ? ['a', 'b', '+', '$S', '%c'] : ['a', 'b', '+', '%u']));
    if (rnd(3) === 0) levels.push('#');
    return levels.join('/');
  };
  const access = ['read', 'write', 'readwrite', 'deny'];
  let checked = 0;
  const tally = { grant: 0, partial: 0, deny: 0 };
  for (let round = 0; round < 300; round++) {
    const lines: string[] = [];
    for (let i = 0; i < 1 + rnd(6); i++) {
      if (rnd(4) === 0) lines.push(`user ${pick(['u', 'v'])}`);
      const f = randomFilter();
      lines.push(f.includes('%') ? `pattern ${pick(access)} ${f}` : `topic ${pick(access)} ${f}`);
    }
    const acl = Acl.parse(lines.join('\n'));
    const client = acl.forClient(pick(['a', 'b']), pick([undefined, 'u', 'v', 'a']));
    for (let k = 0; k < 10; k++) {
      const f = randomFilter().replace(/%[cu]/g, 'a');
      const v = client.subscribeVerdict(f);
      const readable = universe.filter((t) => topicMatches(f, t)).map((t) => client.canRead(t));
      if (v === 'grant') assert.ok(readable.every(Boolean), `grant ${f} with\n${lines.join('\n')}`);
      if (v === 'deny') assert.ok(!readable.some(Boolean), `deny ${f} with\n${lines.join('\n')}`);
      checked++;
      tally[v]++;
    }
  }
  assert.equal(checked, 3000);
  assert.ok(tally.grant > 100 && tally.deny > 100 && tally.partial > 100, JSON.stringify(tally)); // all three verdicts exercised
});

test('pattern rules share one compiled trie across clients: interleaved checks of different clients stay per client', () => {
  const acl = Acl.parse('pattern read devices/%c/cmd\npattern deny devices/%c/cmd/off\npattern readwrite %c/#\npattern read t/pre-%u/x\n');
  const c1 = acl.forClient('c1', 'u1');
  const c2 = acl.forClient('c2', 'u2');
  const dollar = acl.forClient('$x', 'u3');
  for (let i = 0; i < 3; i++) {
    assert.equal(c1.canRead('devices/c1/cmd'), true);
    assert.equal(c2.canRead('devices/c1/cmd'), false);
    assert.equal(c2.canRead('devices/c2/cmd'), true);
    assert.equal(c1.canRead('devices/c1/cmd/off'), false);
    assert.equal(c1.canPublish('c1/any/thing'), true, 'a placeholder in the first level');
    assert.equal(c2.canPublish('c1/any/thing'), false);
    assert.equal(dollar.canRead('$x/y'), true, "an id starting with '$' reaches its own '$' levels, as in Mosquitto 2.0");
    assert.equal(c1.canRead('t/pre-u1/x'), true);
    assert.equal(c1.canRead('t/pre-u2/x'), false);
  }
});

test('publish verdict cache: repeated and rotating topics get the verdict an uncached check gives, allowed and denied alike', () => {
  const text = 'topic write a/#\ntopic deny a/secret/#\npattern write devices/%c/#\n';
  const acl = Acl.parse(text);
  const cached = acl.forClient('d1', undefined);
  const topics = ['a/1', 'a/secret/x', 'devices/d1/s', 'devices/d2/s', 'b', 'a/2', 'a/secret/y'];
  const expected = new Map(topics.map((t) => [t, Acl.parse(text).forClient('d1', undefined).canPublish(t)]));
  assert.deepEqual([...expected.values()], [true, false, true, false, false, true, false]);
  // the same instance again (a cache hit), equal strings built anew, and more topics than slots in turn
  for (let round = 0; round < 5; round++) {
    for (const t of topics) assert.equal(cached.canPublish(t), expected.get(t), t);
    for (const t of topics) assert.equal(cached.canPublish(`${t}`.slice(0)), expected.get(t), t);
    for (let i = 0; i < 3; i++) assert.equal(cached.canPublish('a/secret/x'), false);
  }
  // the read side's last-topic check answers per topic too
  const reader = Acl.parse('topic read a/#\ntopic deny a/secret/#\n').forClient('r', undefined);
  for (const t of ['a/1', 'a/1', 'a/secret/x', 'a/secret/x', 'a/1']) assert.equal(reader.canReadCached(t), !t.includes('secret'), t);
});

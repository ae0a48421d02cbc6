// The compiled ACL checker: Mosquitto 2.0's semantics (mosquitto_acl_check_default and
// acl__check_dollar), prepared so a check per message costs a trie walk or a cache lookup.
//
// How Mosquitto decides a READ (delivery) or WRITE (PUBLISH) of topic T for a client:
//  1. T starting with "$SYS": WRITE is refused (only "$SYS/broker/connection/+/state", bridge
//     status, goes on to the rules); T starting with "$share": refused.
//  2. The client's section: its user's `topic` rules, or the anonymous section's when it has no
//     user name. A matching `deny` refuses; a matching rule with the access bit allows. (deny
//     rules are moved to the front when the file loads, so deny wins whatever the order.)
//  3. With any `pattern` rule loaded, a client id or user name containing '+' or '#' is refused
//     (CVE-2017-7650: such a name would turn a pattern into a wildcard). Shoal also refuses a
//     '/' in the id (user name) when a pattern uses %c (%u): substituted, it would reach into
//     another client's levels (`%c/#` for id "bob/x" is "bob/x/#", inside bob's "bob/#").
//     Mosquitto 2.0 lets that through; 1.x refused it too.
//  4. `pattern` rules with %c / %u replaced (rules with %u are skipped for clients without a
//     user name): a matching `deny` refuses, a matching rule with the access bit allows.
//  5. Otherwise refused: with an ACL file loaded access is denied by default.
// Rule filters match topics as subscriptions do: '+' one level, '#' the rest, and a '$' topic
// only by a rule that itself starts with '$' (so `topic read #` does not open $SYS).
//
// What is prepared when: the file's sections are compiled once per load (a topic trie per
// section, a shared trie of pattern skeletons); a client's pattern rules are substituted once
// at connect (forClient), so there is no string building per message; each client keeps the
// verdicts of the last few topics it published (a publisher repeats its topics: a hit is a
// pointer compare), and DecisionCache keeps per-(client, topic) READ answers for the fan-out
// path, bounded in size.
import { TopicTrie, topicMatches } from '../topics/trie.ts';
import { parseSharedSubscription } from '../topics/validate.ts';
import { Access, loadAclFile, parseAclFile, type AclFileData, type AclRule } from './acl-file.ts';
import { contains, meet } from './filter-sets.ts';

export type SubscribeVerdict = 'grant' | 'partial' | 'deny';

const BRIDGE_STATE = '$SYS/broker/connection/+/state';
export const DEFAULT_DECISION_CACHE = 256;
/** Topics per client whose PUBLISH verdict is kept (a power of two: the slot wraps with a mask). */
const PUB_CACHE = 4;

/** One section's `topic` rules, compiled once: a trie for checks, level arrays for verdicts. */
class Section {
  readonly trie = new TopicTrie<number>();
  readonly denies: string[][] = [];
  /** rules allowing READ (for SUBSCRIBE verdicts) */
  readonly reads: string[][] = [];

  constructor(rules: readonly AclRule[]) {
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      // several rules may share a filter: OR their bits, but a deny stays a deny
      const prev = this.trie.get(r.filter, '');
      this.trie.add(r.filter, '', prev === undefined ? (r.access === 0 ? -1 : r.access) : (prev === -1 || r.access === 0 ? -1 : prev | r.access));
      if (r.access === Access.DENY) this.denies.push(r.filter.split('/'));
      else if ((r.access & Access.READ) !== 0) this.reads.push(r.filter.split('/'));
    }
  }

  /** -1 when a deny rule matches `topic`, else the OR of the access bits of the rules that match. */
  decide(topic: string): number {
    scratch = 0;
    this.trie.match(topic, collect);
    return scratch;
  }
}

// match() is synchronous and JS single-threaded: one scratch word instead of a closure per call.
let scratch = 0;
const collect = (bits: number): void => {
  if (scratch === -1) return;
  scratch = bits === -1 ? -1 : scratch | bits;
};

interface PatternRule { filter: string; access: number; usesC: boolean; usesU: boolean }

/**
 * The `pattern` rules, compiled once per load. Each is also added to a shared trie as its
 * skeleton, every level holding %c or %u turned into '+': a skeleton matches a superset of
 * the topics the client's substituted rule matches (a substituted level stays one level, as
 * names with '/' get no pattern using them), so a check walks the shared trie (whose
 * topic → nodes cache all clients share) and compares only the candidates it yields with
 * the client's own filters, instead of every pattern. Patterns whose first level holds a
 * placeholder are always candidates: a client id starting with '$' would reach '$' topics
 * that a '+' first level never matches.
 */
class Patterns {
  readonly rules: PatternRule[];
  readonly skeletons = new TopicTrie<number>();
  readonly firstLevelPlaceholder: number[] = [];
  readonly usesC: boolean;
  readonly usesU: boolean;

  constructor(rules: readonly AclRule[]) {
    this.rules = rules.map((r) => ({ filter: r.filter, access: r.access, usesC: r.filter.includes('%c'), usesU: r.filter.includes('%u') }));
    this.usesC = this.rules.some((p) => p.usesC);
    this.usesU = this.rules.some((p) => p.usesU);
    this.rules.forEach((r, i) => {
      const levels = r.filter.split('/');
      if (/%[cu]/.test(levels[0]!)) this.firstLevelPlaceholder.push(i);
      else this.skeletons.add(levels.map((l) => (/%[cu]/.test(l) ? '+' : l)).join('/'), String(i), i);
    });
  }
}

// Scratch for the synchronous skeleton walk (JS is single-threaded): no closure per check.
let walkFilters: readonly (string | null)[] = [];
let walkAccess: readonly number[] = [];
let walkTopic = '';
let walkBits = 0;
const visitPattern = (i: number): void => {
  if (walkBits === -1) return;
  const f = walkFilters[i];
  if (f === null || f === undefined || !topicMatches(f, walkTopic)) return;
  walkBits = walkAccess[i] === 0 ? -1 : walkBits | walkAccess[i]!;
};

/** The ACL file compiled: sections once per load; clients prepared by forClient(). */
export class Acl {
  private readonly anonymous: Section;
  private readonly users = new Map<string, Section>();
  private readonly patterns: Patterns;
  private readonly cacheSize: number;
  readonly warnings: readonly string[];

  constructor(data: AclFileData, opts: { decisionCacheSize?: number } = {}) {
    this.anonymous = new Section(data.anonymous);
    for (const [user, rules] of data.users) this.users.set(user, new Section(rules));
    this.patterns = new Patterns(data.patterns);
    this.cacheSize = opts.decisionCacheSize ?? DEFAULT_DECISION_CACHE;
    this.warnings = data.warnings;
  }

  static parse(text: string, source?: string): Acl { return new Acl(parseAclFile(text, source)); }
  static load(path: string, opts: { decisionCacheSize?: number } = {}): Acl { return new Acl(loadAclFile(path), opts); }

  /** The client's rules, prepared once (at CONNECT; again after a reload). */
  forClient(clientId: string, username: string | undefined): ClientAcl {
    const section = username === undefined ? this.anonymous : (this.users.get(username) ?? null);
    const p = this.patterns;
    let poisoned = false;
    let filters: (string | null)[] = [];
    if (p.rules.length > 0) {
      poisoned = /[+#]/.test(clientId) || (username !== undefined && /[+#]/.test(username))
        || (p.usesC && clientId.includes('/')) || (p.usesU && username !== undefined && username.includes('/'));
      // an empty user name fills no level: such a client gets no %u rule (Mosquitto 2.1 does the same)
      if (!poisoned) filters = p.rules.map((r) => (r.usesU && (username === undefined || username === '') ? null : substitute(r.filter, clientId, username ?? '')));
    }
    return new ClientAcl(section, poisoned ? null : p, filters, this.cacheSize);
  }
}

/** Mosquitto's substitution: one pass, every "%c" → client id, every "%u" → user name. */
function substitute(filter: string, clientId: string, username: string): string {
  return filter.replace(/%[cu]/g, (m) => (m === '%c' ? clientId : username));
}

/** One client's view of the ACL: what checks run per PUBLISH, per delivery and per SUBSCRIBE. */
export class ClientAcl {
  private readonly section: Section | null;
  /** null when the client gets no pattern rule (none loaded, or its id / user name is refused them) */
  private readonly patterns: Patterns | null;
  /** the client's substituted pattern filters by rule index; null where a rule does not apply */
  private readonly filters: (string | null)[];
  private readonly access: number[];
  private readonly cacheSize: number;
  private cache: DecisionCache | null = null;
  // The last PUB_CACHE topics published and their verdicts, replaced round robin ('' = empty: no topic is empty).
  private readonly pubTopics: string[] = ['', '', '', ''];
  private readonly pubOk: boolean[] = [false, false, false, false];
  private pubNext = 0;
  // The last topic read through canReadCached: a fan-out asks each subscriber about one topic in a row.
  private lastRead = '';
  private lastReadOk = false;

  constructor(section: Section | null, patterns: Patterns | null, filters: (string | null)[], cacheSize: number) {
    this.section = section;
    this.patterns = patterns !== null && patterns.rules.length > 0 ? patterns : null;
    this.filters = filters;
    this.access = patterns?.rules.map((r) => r.access) ?? [];
    this.cacheSize = cacheSize;
  }

  /**
   * May the client PUBLISH to `topic` (also: its will message)? Through a few-entry verdict
   * cache of the topics it published last: a publisher usually repeats its topics, and the
   * decoder hands back the same string instance for the same bytes (shared/string-cache.ts),
   * so a hit is a pointer compare. A reload makes a new ClientAcl, so no entry outlives its file.
   */
  canPublish(topic: string): boolean {
    const t = this.pubTopics;
    for (let i = 0; i < PUB_CACHE; i++) if (t[i] === topic) return this.pubOk[i]!;
    const ok = this.check(topic, Access.WRITE);
    const slot = this.pubNext;
    this.pubNext = (slot + 1) & (PUB_CACHE - 1);
    t[slot] = topic;
    this.pubOk[slot] = ok;
    return ok;
  }

  /** May a message on `topic` be delivered to the client (also: retained messages on SUBSCRIBE)? */
  canRead(topic: string): boolean { return this.check(topic, Access.READ); }

  /** canRead through this client's bounded decision cache: for the delivery of wildcard subscriptions judged 'partial'. */
  canReadCached(topic: string): boolean {
    if (topic === this.lastRead) return this.lastReadOk;
    const cache = this.cache ??= new DecisionCache(this.cacheSize);
    let ok = cache.get(topic);
    if (ok === undefined) {
      ok = this.check(topic, Access.READ);
      cache.set(topic, ok);
    }
    this.lastRead = topic;
    this.lastReadOk = ok;
    return ok;
  }

  private check(topic: string, access: number): boolean {
    if (topic.charCodeAt(0) === 0x24) {
      if (topic.startsWith('$SYS')) {
        if (access === Access.WRITE && !topicMatches(BRIDGE_STATE, topic)) return false;
      } else if (topic.startsWith('$share')) {
        return false;
      }
    }
    if (this.section !== null) {
      const bits = this.section.decide(topic);
      if (bits === -1) return false;
      if ((bits & access) !== 0) return true;
    }
    const p = this.patterns;
    if (p === null) return false;
    walkFilters = this.filters;
    walkAccess = this.access;
    walkTopic = topic;
    walkBits = 0;
    p.skeletons.match(topic, visitPattern);
    const first = p.firstLevelPlaceholder;
    for (let i = 0; i < first.length; i++) visitPattern(first[i]!);
    return walkBits !== -1 && (walkBits & access) !== 0;
  }

  /**
   * SUBSCRIBE to `filter` (a `$share/group/` prefix is looked through): 'deny' when no topic
   * the filter matches could be read, 'grant' when every one can (delivery needs no check),
   * 'partial' otherwise (delivery checks each topic: canReadCached). Exact where it says
   * 'grant' or 'deny'; a filter whose readable part is spread over several rules may come out
   * 'partial' though it is wholly readable, which costs delivery checks, never access.
   */
  subscribeVerdict(filter: string): SubscribeVerdict {
    const shared = parseSharedSubscription(filter);
    const f = (shared !== null && typeof shared === 'object' ? shared.filter : filter).split('/');
    if (f[0]!.startsWith('$share')) return 'deny'; // step 1 refuses every such topic
    const ud = this.section?.denies ?? NONE;
    const ug = this.section?.reads ?? NONE;
    const pd: string[][] = [];
    const pg: string[][] = [];
    const poisoned = this.patterns === null;
    for (let i = 0; i < this.filters.length; i++) {
      const pf = this.filters[i];
      if (pf === null || pf === undefined) continue;
      if (this.access[i] === Access.DENY) pd.push(pf.split('/'));
      else if ((this.access[i]! & Access.READ) !== 0) pg.push(pf.split('/'));
    }
    const overlaps = (rules: readonly string[][]): boolean => rules.some((r) => meet(f, r) !== null);
    const covers = (rules: readonly string[][], x: readonly string[]): boolean => rules.some((r) => contains(r, x));
    if (!overlaps(ud) && (covers(ug, f) || (!poisoned && !overlaps(pd) && covers(pg, f)))) return 'grant';
    for (const g of ug) {
      const part = meet(f, g);
      if (part !== null && !covers(ud, part)) return 'partial';
    }
    for (const p of pg) {
      const part = meet(f, p);
      if (part !== null && !covers(ud, part) && !covers(pd, part)) return 'partial';
    }
    return 'deny';
  }
}

const NONE: readonly string[][] = [];

/**
 * Per-client READ decisions by topic, at most `max` of them: when full the oldest entry goes
 * (insertion order), so a client subscribed to `#` on a broker with millions of topics costs
 * `max` entries, not one per topic. Hits do not allocate (the topic string is the key).
 */
export class DecisionCache {
  private readonly map = new Map<string, boolean>();
  readonly max: number;

  constructor(max: number = DEFAULT_DECISION_CACHE) { this.max = Math.max(1, max); }

  get size(): number { return this.map.size; }
  get(topic: string): boolean | undefined { return this.map.get(topic); }

  set(topic: string, allowed: boolean): void {
    if (this.map.size >= this.max && !this.map.has(topic)) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(topic, allowed);
  }

  clear(): void { this.map.clear(); }
}

// Subscription index: topic filter → { key → value }, matched against a topic on every
// publish. Filters are expected to be valid (validate.ts); '+' and '#' are wildcards only
// when they are a whole level.
//
// match() walks the topic in place: one charCodeAt pass per level computes the level's hash
// and finds its end, children are looked up by that hash and confirmed with startsWith, so
// a publish allocates no level substrings. bench/micro/topics.ts measures this against
// split('/') and slice-per-level walks of the same tree.

const SLASH = 0x2f;
const DOLLAR = 0x24;
const FNV_PRIME = 0x0100_0193;
// Per thread, so the hash collisions a client could aim for by choosing filter levels are
// not knowable in advance; each collision only costs a sibling-chain step anyway.
const SEED = (Math.random() * 0x7fff_ffff) | 0;
// Below this many keys per filter a linear scan beats keeping a Map per node.
const INDEX_THRESHOLD = 8;

function levelHash(s: string, start: number, end: number): number {
  let h = SEED;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h & 0x3fff_ffff; // stays a small integer, the cheapest Map key
}

class TrieNode<V> {
  readonly level: string;
  readonly levelHash: number;
  readonly parent: TrieNode<V> | null;
  /** exact-level children by level hash; colliding siblings chain through `nextSibling` */
  children: Map<number, TrieNode<V>> | null = null;
  nextSibling: TrieNode<V> | null = null;
  plusChild: TrieNode<V> | null = null;
  hashChild: TrieNode<V> | null = null;
  /** the full filter ending here; set while `keys` is non-null */
  filter = '';
  keys: string[] | null = null;
  values: V[] | null = null;
  /** key → position in keys/values, only once a filter has many keys */
  index: Map<string, number> | null = null;

  constructor(level: string, levelHash: number, parent: TrieNode<V> | null) {
    this.level = level;
    this.levelHash = levelHash;
    this.parent = parent;
  }

  isEmpty(): boolean {
    return this.keys === null && this.plusChild === null && this.hashChild === null &&
      (this.children === null || this.children.size === 0);
  }

  findKey(key: string): number {
    if (this.index !== null) return this.index.get(key) ?? -1;
    const keys = this.keys;
    if (keys === null) return -1;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  }

  /** exact child for topic/filter level [start, end), or null */
  child(s: string, start: number, end: number, h: number): TrieNode<V> | null {
    if (this.children === null) return null;
    let c = this.children.get(h) ?? null;
    const len = end - start;
    while (c !== null) {
      if (c.level.length === len && s.startsWith(c.level, start)) return c;
      c = c.nextSibling;
    }
    return null;
  }
}

const NO_VALUES: readonly never[] = Object.freeze([]);

/** Topics whose matching nodes are remembered (match cache); beyond this the cache starts afresh. */
const MATCH_CACHE_MAX = 8192;

export class TopicTrie<V> {
  private root = new TrieNode<V>('', 0, null);
  private count = 0;
  // Match cache: topic → the nodes whose entries match it, valid until the next add/remove
  // (publishers repeat topics, so most publishes skip the walk). Emptied on every change.
  private readonly cache = new Map<string, TrieNode<V>[]>();
  private collecting: TrieNode<V>[] | null = null;
  // The same, flattened to the matching values (matchValues): the hot fan-out loops over an
  // array instead of calling a visit closure per subscriber through the shared emit().
  private readonly flat = new Map<string, V[]>();

  /** total (filter, key) entries */
  get size(): number {
    return this.count;
  }

  /** Adds or replaces; true when `key` is new for `filter`. */
  add(filter: string, key: string, value: V): boolean {
    this.invalidate();
    const node = this.nodeFor(filter, true)!;
    const at = node.findKey(key);
    if (at >= 0) {
      node.values![at] = value;
      return false;
    }
    if (node.keys === null) {
      node.keys = [];
      node.values = [];
      node.filter = filter;
    }
    node.keys.push(key);
    node.values!.push(value);
    if (node.index !== null) {
      node.index.set(key, node.keys.length - 1);
    } else if (node.keys.length > INDEX_THRESHOLD) {
      node.index = new Map();
      for (let i = 0; i < node.keys.length; i++) node.index.set(node.keys[i], i);
    }
    this.count++;
    return true;
  }

  /** true when the entry existed; empty nodes are pruned. */
  remove(filter: string, key: string): boolean {
    this.invalidate();
    const node = this.nodeFor(filter, false);
    if (node === null) return false;
    const at = node.findKey(key);
    if (at < 0) return false;
    const keys = node.keys!;
    const values = node.values!;
    const last = keys.length - 1;
    // Swap-remove: order among keys of one filter carries no meaning.
    if (at !== last) {
      keys[at] = keys[last];
      values[at] = values[last];
      if (node.index !== null) node.index.set(keys[at], at);
    }
    keys.pop();
    values.pop();
    if (node.index !== null) node.index.delete(key);
    this.count--;
    if (keys.length === 0) {
      node.keys = null;
      node.values = null;
      node.index = null;
      node.filter = '';
      this.prune(node);
    }
    return true;
  }

  get(filter: string, key: string): V | undefined {
    const node = this.nodeFor(filter, false);
    if (node === null) return undefined;
    const at = node.findKey(key);
    return at < 0 ? undefined : node.values![at];
  }

  hasFilter(filter: string): boolean {
    const node = this.nodeFor(filter, false);
    return node !== null && node.keys !== null;
  }

  *keysOf(filter: string): Iterable<[string, V]> {
    const node = this.nodeFor(filter, false);
    if (node === null || node.keys === null) return;
    // Copies, so callers may remove entries while iterating.
    const keys = node.keys.slice();
    const values = node.values!.slice();
    for (let i = 0; i < keys.length; i++) yield [keys[i], values[i]];
  }

  *filters(): Iterable<string> {
    const out: string[] = [];
    collectFilters(this.root, out);
    yield* out;
  }

  clear(): void {
    this.invalidate();
    this.root = new TrieNode<V>('', 0, null);
    this.count = 0;
  }

  /**
   * Calls `visit` once per (filter, key) whose filter matches `topic`. `visit` must not
   * add or remove entries (collect first, then mutate).
   * A topic starting with '$' is not matched by a filter starting with '+' or '#'
   * [MQTT-4.7.2-1].
   */
  match(topic: string, visit: (value: V, key: string, filter: string) => void): void {
    if (this.count === 0) return; // e.g. no shared groups, or no local subscriber on a publisher's shard
    const hit = this.cache.get(topic);
    if (hit !== undefined) {
      for (let i = 0; i < hit.length; i++) emit(hit[i]!, visit);
      return;
    }
    const nodes: TrieNode<V>[] = [];
    this.collecting = nodes;
    try {
      this.walk(this.root, topic, 0, visit, topic.charCodeAt(0) === DOLLAR);
    } finally {
      this.collecting = null;
    }
    if (this.cache.size >= MATCH_CACHE_MAX) this.cache.clear();
    this.cache.set(topic, nodes);
  }

  /**
   * The values of every (filter, key) whose filter matches `topic`, as `match` would visit
   * them, in one array remembered per topic until the next add/remove. The array is never
   * changed once returned (a change makes a new one), so callers may mutate the trie while
   * looping over it. Do not modify it.
   */
  matchValues(topic: string): readonly V[] {
    if (this.count === 0) return NO_VALUES as readonly V[];
    const hit = this.flat.get(topic);
    if (hit !== undefined) return hit;
    const out: V[] = [];
    this.match(topic, (v) => { out.push(v); });
    if (this.flat.size >= MATCH_CACHE_MAX) this.flat.clear();
    this.flat.set(topic, out);
    return out;
  }

  private invalidate(): void {
    if (this.cache.size !== 0) this.cache.clear();
    if (this.flat.size !== 0) this.flat.clear();
  }

  private emit(node: TrieNode<V>, visit: (value: V, key: string, filter: string) => void): void {
    if (node.keys === null) return;
    this.collecting!.push(node);
    emit(node, visit);
  }

  // `node` has consumed every level before `start`; start === -1 means no level is left.
  private walk(
    node: TrieNode<V>, topic: string, start: number,
    visit: (value: V, key: string, filter: string) => void, skipWildcards: boolean,
  ): void {
    if (start < 0) {
      this.emit(node, visit);
      // 'a/#' also matches 'a' itself [MQTT-4.7.1-2 non-normative example]
      if (node.hashChild !== null) this.emit(node.hashChild, visit);
      return;
    }
    if (node.hashChild !== null && !skipWildcards) this.emit(node.hashChild, visit);

    const n = topic.length;
    let h = SEED;
    let end = start;
    for (; end < n; end++) {
      const c = topic.charCodeAt(end);
      if (c === SLASH) break;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const next = end < n ? end + 1 : -1;

    if (node.plusChild !== null && !skipWildcards) this.walk(node.plusChild, topic, next, visit, false);
    if (node.children !== null) {
      const child = node.child(topic, start, end, h & 0x3fff_ffff);
      if (child !== null) this.walk(child, topic, next, visit, false);
    }
  }

  private nodeFor(filter: string, create: boolean): TrieNode<V> | null {
    let node = this.root;
    let start = 0;
    const n = filter.length;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end === -1) end = n;
      const len = end - start;
      const c = len === 1 ? filter.charCodeAt(start) : -1;
      let next: TrieNode<V> | null;
      if (c === 0x2b) { // '+'
        next = node.plusChild;
        if (next === null && create) next = node.plusChild = new TrieNode<V>('+', 0, node);
      } else if (c === 0x23) { // '#'
        next = node.hashChild;
        if (next === null && create) next = node.hashChild = new TrieNode<V>('#', 0, node);
      } else {
        const h = levelHash(filter, start, end);
        next = node.child(filter, start, end, h);
        if (next === null && create) next = addChild(node, filter.slice(start, end), h);
      }
      if (next === null) return null;
      node = next;
      if (end === n) return node;
      start = end + 1;
    }
  }

  private prune(node: TrieNode<V>): void {
    let cur = node;
    while (cur.parent !== null && cur.isEmpty()) {
      const parent = cur.parent;
      if (parent.plusChild === cur) parent.plusChild = null;
      else if (parent.hashChild === cur) parent.hashChild = null;
      else detachChild(parent, cur);
      cur = parent;
    }
  }
}

function addChild<V>(parent: TrieNode<V>, level: string, h: number): TrieNode<V> {
  const child = new TrieNode<V>(level, h, parent);
  if (parent.children === null) parent.children = new Map();
  const head = parent.children.get(h);
  if (head !== undefined) child.nextSibling = head;
  parent.children.set(h, child);
  return child;
}

function detachChild<V>(parent: TrieNode<V>, child: TrieNode<V>): void {
  const children = parent.children!;
  const head = children.get(child.levelHash)!;
  if (head === child) {
    if (child.nextSibling !== null) children.set(child.levelHash, child.nextSibling);
    else children.delete(child.levelHash);
  } else {
    let prev = head;
    while (prev.nextSibling !== child) prev = prev.nextSibling!;
    prev.nextSibling = child.nextSibling;
  }
  child.nextSibling = null;
  if (children.size === 0) parent.children = null;
}

function emit<V>(node: TrieNode<V>, visit: (value: V, key: string, filter: string) => void): void {
  const keys = node.keys;
  if (keys === null) return;
  const values = node.values!;
  const filter = node.filter;
  for (let i = 0; i < keys.length; i++) visit(values[i], keys[i], filter);
}

function collectFilters<V>(node: TrieNode<V>, out: string[]): void {
  if (node.keys !== null) out.push(node.filter);
  if (node.children !== null) {
    for (const head of node.children.values()) {
      for (let c: TrieNode<V> | null = head; c !== null; c = c.nextSibling) collectFilters(c, out);
    }
  }
  if (node.plusChild !== null) collectFilters(node.plusChild, out);
  if (node.hashChild !== null) collectFilters(node.hashChild, out);
}

/**
 * Whether `filter` matches `topic`, walking both strings in place. Same rules as
 * TopicTrie.match: '+' is one level (possibly empty), '#' the parent level and everything
 * below, '$' topics are invisible to a leading wildcard [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === DOLLAR) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 0x2b || f0 === 0x23) return false;
  }
  const fn = filter.length;
  const tn = topic.length;
  let fi = 0; // start of the current filter level; -1 once past the last one
  let ti = 0; // same for the topic
  for (;;) {
    if (fi < 0) return ti < 0;
    let fe = filter.indexOf('/', fi);
    if (fe === -1) fe = fn;
    const flen = fe - fi;
    if (flen === 1 && filter.charCodeAt(fi) === 0x23) return true;
    if (ti < 0) return false;
    let te = topic.indexOf('/', ti);
    if (te === -1) te = tn;
    if (!(flen === 1 && filter.charCodeAt(fi) === 0x2b)) {
      if (te - ti !== flen) return false;
      for (let k = 0; k < flen; k++) {
        if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
      }
    }
    fi = fe === fn ? -1 : fe + 1;
    ti = te === tn ? -1 : te + 1;
  }
}

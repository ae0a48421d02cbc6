// Micro-bench of subscription matching: which way of walking topic levels to use in
// TopicTrie.match, measured on 10k filters. Compares the shipped trie (in-place level walk,
// hashed children, no substrings) with the same tree walked via slice-per-level and via
// split('/'), and with a linear scan of topicMatches as the no-index baseline.
//
//   node bench/micro/topics.ts            (or import { run } and call it)
import { getHeapStatistics } from 'node:v8';
import { TopicTrie, topicMatches } from '../../src/shared/topics/trie.ts';

export interface TopicsBenchResult {
  workload: string;
  approach: string;
  nsPerMatch: number;
  matchesPerSec: number;
  /** heap bytes allocated per match (V8's total_allocated_bytes over the timed loop) */
  bytesPerMatch: number;
  /** total visits, to check every approach did the same work */
  visits: number;
}

// ---- the alternatives: same shape of tree, different level extraction --------------------

class StrNode {
  children: Map<string, StrNode> | null = null;
  plus: StrNode | null = null;
  hash: StrNode | null = null;
  keys: string[] | null = null;
  filter = '';
}

function strAdd(root: StrNode, filter: string, key: string): void {
  let node = root;
  for (const level of filter.split('/')) {
    let next: StrNode | null;
    if (level === '+') next = node.plus ??= new StrNode();
    else if (level === '#') next = node.hash ??= new StrNode();
    else {
      node.children ??= new Map();
      next = node.children.get(level) ?? null;
      if (next === null) node.children.set(level, next = new StrNode());
    }
    node = next;
  }
  node.filter = filter;
  (node.keys ??= []).push(key);
}

type Visit = (value: number, key: string, filter: string) => void;

function strEmit(node: StrNode, visit: Visit): void {
  const keys = node.keys;
  if (keys === null) return;
  for (let i = 0; i < keys.length; i++) visit(i, keys[i], node.filter);
}

/** indexOf + slice per level: allocates one substring per level */
function sliceWalk(node: StrNode, topic: string, start: number, visit: Visit, skip: boolean): void {
  if (start < 0) {
    strEmit(node, visit);
    if (node.hash !== null) strEmit(node.hash, visit);
    return;
  }
  if (node.hash !== null && !skip) strEmit(node.hash, visit);
  let end = topic.indexOf('/', start);
  const next = end === -1 ? -1 : end + 1;
  if (end === -1) end = topic.length;
  if (node.plus !== null && !skip) sliceWalk(node.plus, topic, next, visit, false);
  if (node.children !== null) {
    const child = node.children.get(topic.slice(start, end));
    if (child !== undefined) sliceWalk(child, topic, next, visit, false);
  }
}

/** split('/') once per publish, then walk the array */
function splitWalk(node: StrNode, levels: string[], i: number, visit: Visit, skip: boolean): void {
  if (i === levels.length) {
    strEmit(node, visit);
    if (node.hash !== null) strEmit(node.hash, visit);
    return;
  }
  if (node.hash !== null && !skip) strEmit(node.hash, visit);
  if (node.plus !== null && !skip) splitWalk(node.plus, levels, i + 1, visit, false);
  if (node.children !== null) {
    const child = node.children.get(levels[i]);
    if (child !== undefined) splitWalk(child, levels, i + 1, visit, false);
  }
}

// ---- workloads -----------------------------------------------------------------------

// Deterministic PRNG so runs are comparable.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Workload {
  name: string;
  filters: string[];
  topics: string[];
}

const METRICS = ['temperature', 'humidity', 'pressure', 'battery', 'status', 'cmd'];

/** IoT fleet: 10k filters, mostly exact device topics, some per-site and per-device wildcards */
function fleet(): Workload {
  const r = rng(1);
  const filters: string[] = [];
  for (let i = 0; filters.length < 10_000; i++) {
    const site = `site-${Math.floor(r() * 50)}`;
    const dev = `dev-${Math.floor(r() * 2000).toString(16).padStart(4, '0')}`;
    const metric = METRICS[Math.floor(r() * METRICS.length)];
    const x = r();
    if (x < 0.80) filters.push(`fleet/${site}/${dev}/${metric}`);
    else if (x < 0.90) filters.push(`fleet/${site}/${dev}/#`);
    else if (x < 0.96) filters.push(`fleet/${site}/+/${metric}`);
    else if (x < 0.99) filters.push(`fleet/+/${dev}/+`);
    else filters.push(`fleet/${site}/#`);
  }
  const topics: string[] = [];
  for (let i = 0; i < 4096; i++) {
    const site = `site-${Math.floor(r() * 50)}`;
    const dev = `dev-${Math.floor(r() * 2000).toString(16).padStart(4, '0')}`;
    topics.push(`fleet/${site}/${dev}/${METRICS[Math.floor(r() * METRICS.length)]}`);
  }
  return { name: 'fleet (4 levels, 10k filters)', filters, topics };
}

/** Short, broad tree: many single-letter levels, heavy wildcard use */
function broad(): Workload {
  const r = rng(2);
  const alpha = 'abcdefghij';
  const level = () => alpha[Math.floor(r() * alpha.length)] + String(Math.floor(r() * 10));
  const filters: string[] = [];
  while (filters.length < 10_000) {
    const depth = 1 + Math.floor(r() * 5);
    const parts: string[] = [];
    for (let d = 0; d < depth; d++) parts.push(r() < 0.15 ? '+' : level());
    if (r() < 0.1) parts.push('#');
    filters.push(parts.join('/'));
  }
  const topics: string[] = [];
  for (let i = 0; i < 4096; i++) {
    const depth = 1 + Math.floor(r() * 5);
    const parts: string[] = [];
    for (let d = 0; d < depth; d++) parts.push(level());
    topics.push(parts.join('/'));
  }
  return { name: 'broad (1-6 levels, wildcards, 10k filters)', filters, topics };
}

// ---- timing ----------------------------------------------------------------------------

function allocated(): number {
  return (getHeapStatistics() as { total_allocated_bytes?: number }).total_allocated_bytes ?? NaN;
}

function time(
  workload: string, approach: string, topics: string[], minMs: number,
  matchOne: (topic: string) => number,
): TopicsBenchResult {
  // Warm up so the JIT has settled before counting.
  let visits = 0;
  for (let i = 0; i < 20_000; i++) visits += matchOne(topics[i & (topics.length - 1)]);
  visits = 0;
  const alloc0 = allocated();
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  const mask = topics.length - 1;
  do {
    for (let i = 0; i < 4096; i++) visits += matchOne(topics[(n + i) & mask]);
    n += 4096;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
  } while (elapsed < minMs);
  const bytes = allocated() - alloc0;
  const ns = (elapsed * 1e6) / n;
  return { workload, approach, nsPerMatch: ns, matchesPerSec: 1e9 / ns, bytesPerMatch: bytes / n, visits: visits / n };
}

export function run(opts: { minMs?: number; print?: boolean } = {}): TopicsBenchResult[] {
  const minMs = opts.minMs ?? 1000;
  const out: TopicsBenchResult[] = [];
  for (const w of [fleet(), broad()]) {
    const trie = new TopicTrie<number>();
    const root = new StrNode();
    w.filters.forEach((f, i) => {
      trie.add(f, `c${i}`, i);
      strAdd(root, f, `c${i}`);
    });
    let hits = 0;
    const visit: Visit = () => { hits++; };
    out.push(time(w.name, 'TopicTrie (in-place walk, hashed levels)', w.topics, minMs, (t) => {
      hits = 0; trie.match(t, visit); return hits;
    }));
    // The fan-out's form (delivery.ts): the remembered flat array of matches, a plain loop.
    out.push(time(w.name, 'TopicTrie.matchValues (flat array, no visit)', w.topics, minMs, (t) => {
      const vs = trie.matchValues(t);
      let k = 0;
      for (let i = 0; i < vs.length; i++) if (vs[i]! >= 0) k++;
      return k;
    }));
    out.push(time(w.name, 'same tree, indexOf + slice per level', w.topics, minMs, (t) => {
      hits = 0; sliceWalk(root, t, 0, visit, t.charCodeAt(0) === 0x24); return hits;
    }));
    out.push(time(w.name, 'same tree, split("/") per publish', w.topics, minMs, (t) => {
      hits = 0; splitWalk(root, t.split('/'), 0, visit, t.charCodeAt(0) === 0x24); return hits;
    }));
    const filters = w.filters;
    out.push(time(w.name, 'linear scan, topicMatches × 10k', w.topics, Math.min(minMs, 300), (t) => {
      let h = 0;
      for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i], t)) h++;
      return h;
    }));
  }
  if (opts.print !== false) {
    for (const r of out) {
      console.log(`${r.workload.padEnd(44)} ${r.approach.padEnd(42)} ${r.nsPerMatch.toFixed(0).padStart(7)} ns/match ` +
        `${(r.matchesPerSec / 1e6).toFixed(2).padStart(6)} M/s  ${r.bytesPerMatch.toFixed(1).padStart(6)} B/match  visits/match=${r.visits.toFixed(2)}`);
    }
  }
  return out;
}

if (import.meta.main) run();

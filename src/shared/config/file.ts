// The --config file: YAML whose keys are the long flag names, plus a `listeners:` list. Every
// refusal names the file and the line of the offending node (the yaml package's node ranges,
// turned into lines by its LineCounter).
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { HookSpec, ListenerConfig } from '../config.ts';
import { byName, type OptionSpec } from './options.ts';
import type { Layer } from './layer.ts';
import { ConfigError, coerce } from './values.ts';
import { readBridges, yamlWhere } from './bridges.ts';

const TRANSPORTS = ['tcp', 'tls', 'ws', 'wss'] as const;

/** The keys of one `listeners:` entry and the rules for their values. */
export const LISTENER_KEYS: ReadonlyMap<string, { field: keyof ListenerConfig; spec: OptionSpec }> = new Map(
  ([
    ['transport', 'transport', { type: 'enum', values: TRANSPORTS }],
    ['host', 'host', { type: 'string' }],
    ['port', 'port', { type: 'int', min: 0, max: 65535 }],
    ['cert', 'cert', { type: 'string' }],
    ['key', 'key', { type: 'string' }],
    ['ca', 'ca', { type: 'string' }],
    ['client-auth', 'clientAuth', { type: 'bool' }],
    ['path', 'path', { type: 'string' }],
  ] as const).map(([name, field, rule]) => [name, { field, spec: { name, key: 'listeners', group: 'Listeners', help: '', ...rule } }]),
);

export interface FileRead {
  layer: Layer;
  /** file:line of each `listeners:` entry, for checks that need the whole configuration. */
  listenerSources: string[];
  /** The file's hooks: list (module, options), and where it is. */
  hooks: HookSpec[];
  hooksSource: string | null;
}

export function readConfigFile(file: string): FileRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined, fallback = 0): string => `${file}:${lines.linePos(node?.range?.[0] ?? fallback).line}`;
  const first = doc.errors[0];
  if (first !== undefined) throw new ConfigError(`${file}:${lines.linePos(first.pos[0]).line}`, `not valid YAML: ${first.message.split('\n')[0]}`);

  const out: FileRead = { layer: new Map(), listenerSources: [], hooks: [], hooksSource: null };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return out; // an empty file sets nothing
  if (!isMap(root)) throw new ConfigError(at(root), 'the config file must be a map of settings (key: value)');
  for (const pair of root.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    const where = at(keyNode);
    const valueNode = pair.value as Node | null;
    if (name === 'hooks') {
      out.hooks = readHooks(valueNode, at, keyNode);
      out.hooksSource = where;
      continue;
    }
    if (name === 'bridges') {
      out.layer.set('bridges', { value: readBridges(valueNode?.toJSON() ?? null, yamlWhere(valueNode ?? keyNode, at)), source: where });
      continue;
    }
    if (name === 'listeners') {
      out.layer.set('listeners', { value: readListeners(valueNode, at, keyNode, out.listenerSources), source: where });
      continue;
    }
    if (name === 'cluster' && isMap(valueNode)) {
      readCluster(valueNode, at, out.layer);
      continue;
    }
    const spec = byName.get(name);
    if (spec === undefined) throw new ConfigError(where, `unknown key ${JSON.stringify(name)} (keys are the long flag names and listeners; see --help)`);
    if (valueNode !== null && !isScalar(valueNode)) throw new ConfigError(at(valueNode), `${name}: must be a single value`);
    out.layer.set(spec.key, { value: coerce(spec, valueNode === null ? null : valueNode.value, `${at(valueNode ?? keyNode)}: ${name}`), source: where });
  }
  return out;
}

/** `cluster: {name, node-id, nats}`: the cluster-* keys as one map (docs/cluster.md); nats may be a list. */
function readCluster(map: Node, at: (n: Node | null | undefined) => string, layer: Layer): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const k = pair.key as Node;
    const v = pair.value as Node | null;
    const name = isScalar(k) ? String(k.value) : '';
    const spec = byName.get(`cluster-${name}`);
    if (spec === undefined) throw new ConfigError(at(k), `cluster: unknown key ${JSON.stringify(name)} (one of name, node-id, nats)`);
    const raw = isSeq(v) ? v.items.map((u) => (isScalar(u) ? String(u.value) : '')).join(',') : isScalar(v) ? v.value : null;
    layer.set(spec.key, { value: coerce(spec, raw, `${at(v ?? k)}: cluster.${name}`), source: at(k) });
  }
}

/** A listener as the file gives it: what it leaves out comes from the top-level keys (./listeners.ts). */
export type ListenerEntry = Partial<ListenerConfig> & Pick<ListenerConfig, 'transport' | 'port'>;

function readListeners(seq: Node | null, at: (n: Node | null | undefined) => string, keyNode: Node, sources: string[]): ListenerEntry[] {
  if (!isSeq(seq)) throw new ConfigError(at(seq ?? keyNode), 'listeners: must be a list of {transport, port, ...}');
  return seq.items.map((item, i) => {
    const node = item as Node;
    const where = at(node);
    if (!isMap(node)) throw new ConfigError(where, `listeners[${i}]: must be a map such as {transport: tcp, port: 1884}`);
    const l: Record<string, unknown> = {};
    const seen = new Set<string>();
    for (const pair of node.items) {
      const k = pair.key as Node;
      const name = isScalar(k) ? String(k.value) : '';
      const rule = LISTENER_KEYS.get(name);
      if (rule === undefined) throw new ConfigError(at(k), `listeners[${i}]: unknown key ${JSON.stringify(name)} (one of ${[...LISTENER_KEYS.keys()].join(', ')})`);
      const v = pair.value as Node | null;
      if (v !== null && !isScalar(v)) throw new ConfigError(at(v), `listeners[${i}].${name}: must be a single value`);
      l[rule.field] = coerce(rule.spec, v === null ? null : v.value, `${at(v ?? k)}: listeners[${i}].${name}`);
      seen.add(name);
    }
    for (const required of ['transport', 'port']) {
      if (!seen.has(required)) throw new ConfigError(where, `listeners[${i}]: needs ${required}`);
    }
    sources.push(where);
    return l as ListenerEntry;
  });
}

/** `hooks:` entries: a module specifier, or {module, options} with any YAML as the options. */
function readHooks(seq: Node | null, at: (n: Node | null | undefined) => string, keyNode: Node): HookSpec[] {
  if (!isSeq(seq)) throw new ConfigError(at(seq ?? keyNode), 'hooks: must be a list of module specifiers or {module, options}');
  return seq.items.map((item, i) => {
    const node = item as Node;
    const raw: unknown = isScalar(node) || isMap(node) ? node.toJSON() : undefined;
    return hookSpecOf(raw, `${at(node)}: hooks[${i}]`);
  });
}

/** One hook entry from a file or an object: 'module' or {module, options}; throws a ConfigError naming `source`. */
export function hookSpecOf(raw: unknown, source: string): HookSpec {
  if (typeof raw === 'string' && raw !== '') return { module: raw, options: {} };
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'module' && k !== 'options') throw new ConfigError(source, `unknown key ${JSON.stringify(k)} (module, options)`);
    if (typeof r.module !== 'string' || r.module === '') throw new ConfigError(source, 'needs module (a path, file: URL or package name)');
    let options: unknown = r.options ?? {};
    // Options cross to every shard by structured clone, and the config file must be able to say them: JSON only.
    try { options = JSON.parse(JSON.stringify(options)); } catch { throw new ConfigError(source, 'options must be JSON-able'); }
    return { module: r.module, options };
  }
  throw new ConfigError(source, 'must be a module specifier or {module, options}');
}

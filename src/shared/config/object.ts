// The configuration of an embedded broker: one object (createBroker's options), keys in camelCase
// as BrokerConfig spells them (dataDir, maxInflight) or as the config file does ('data-dir').
// Every value goes through the option table's rules, so `maxInflight: 0` is refused exactly as
// `--max-inflight 0` is, naming `options.maxInflight`.
import type { BrokerConfig } from '../config.ts';
import { LISTENER_KEYS, hookSpecOf, type ListenerEntry } from './file.ts';
import type { Layer } from './layer.ts';
import { merge, type Loaded } from './load.ts';
import { OPTIONS, byName, type OptionSpec } from './options.ts';
import { ConfigError, coerce } from './values.ts';
import { readBridges } from './bridges.ts';

const byKey: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.key as string, o]));
const listenerByField: ReadonlyMap<string, string> = new Map([...LISTENER_KEYS].map(([name, r]) => [r.field as string, name]));

export type ConfigObject = Readonly<Record<string, unknown>>;

/** The effective configuration of `options` over the defaults; throws a ConfigError naming the key. */
export function loadObject(options: ConfigObject, where = 'options'): Loaded {
  const layer: Layer = new Map();
  let hooks: BrokerConfig['hooks'] = [];
  let hooksSource: string | null = null;
  for (const [name, raw] of Object.entries(options)) {
    if (raw === undefined) continue;
    const source = `${where}.${name}`;
    if (name === 'hooks') {
      if (!Array.isArray(raw)) throw new ConfigError(source, 'must be a list of module specifiers or {module, options}');
      hooks = raw.map((h, i) => hookSpecOf(h, `${source}[${i}]`));
      hooksSource = source;
      continue;
    }
    if (name === 'bridges') {
      layer.set('bridges', { value: readBridges(raw, (path) => `${source}${path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`), source });
      continue;
    }
    if (name === 'listeners') {
      layer.set('listeners', { value: readListeners(raw, source), source });
      continue;
    }
    const spec = byKey.get(name) ?? byName.get(name);
    if (spec === undefined) throw new ConfigError(source, 'unknown option (the config keys, in camelCase or kebab-case; docs/embedding.md)');
    if (layer.has(spec.key)) throw new ConfigError(source, `given twice (also as ${spec.key === name ? spec.name : spec.key})`);
    layer.set(spec.key, { value: coerce(spec, raw, source), source });
  }
  return { ...merge([layer], hooks, hooksSource), file: null };
}

function readListeners(raw: unknown, source: string): ListenerEntry[] {
  if (!Array.isArray(raw)) throw new ConfigError(source, 'must be a list of {transport, port, ...}');
  return raw.map((item: unknown, i) => {
    const at = `${source}[${i}]`;
    if (typeof item !== 'object' || item === null) throw new ConfigError(at, 'must be an object such as {transport: "tcp", port: 1884}');
    const l: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) {
      const rule = LISTENER_KEYS.get(listenerByField.get(k) ?? k);
      if (rule === undefined) throw new ConfigError(`${at}.${k}`, `unknown key (one of ${[...LISTENER_KEYS.keys()].join(', ')})`);
      l[rule.field] = coerce(rule.spec, v, `${at}.${k}`);
    }
    for (const required of ['transport', 'port']) if (!(required in l)) throw new ConfigError(at, `needs ${required}`);
    return l as ListenerEntry;
  });
}

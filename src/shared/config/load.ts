// The effective configuration: defaults, then the file, then the environment, then the flags
// (each later source wins), then the checks that span settings. An embedding program gives one
// object instead (createBroker, ./object.ts), checked by the same table and the same checks.
import { DEFAULTS, type BrokerConfig, type HookSpec } from '../config.ts';
import { readEnv } from './env.ts';
import { readConfigFile, type ListenerEntry } from './file.ts';
import { readFlags } from './flags.ts';
import type { Layer } from './layer.ts';
import { completeListener } from './listeners.ts';
import { validate } from './validate.ts';

export interface Loaded {
  config: BrokerConfig;
  /** Where each setting that is not a default came from (--flag, SHOAL_VAR, file:line). */
  sources: ReadonlyMap<keyof BrokerConfig, string>;
  file: string | null;
}

export type Cli = { action: 'help' } | { action: 'version' } | ({ action: 'run' | 'print-config' } & Loaded);

/** What the command line asks for; throws CONFIG_INVALID (a ConfigError names its source). */
export function loadCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Cli {
  const flags = readFlags(argv);
  if (flags.help) return { action: 'help' };
  if (flags.version) return { action: 'version' };
  return { action: flags.printConfig ? 'print-config' : 'run', ...loadConfig(flags.layer, flags.config, flags.hooks, env) };
}

function loadConfig(flagLayer: Layer, flagFile: string | null, flagHooks: readonly string[], env: Readonly<Record<string, string | undefined>>): Loaded {
  const fromEnv = readEnv(env);
  const file = flagFile ?? fromEnv.config;
  const fromFile = file === null ? null : readConfigFile(file);
  const hooks = [...fromFile?.hooks ?? [], ...flagHooks.map((module): HookSpec => ({ module, options: {} }))];
  const hooksSource = flagHooks.length > 0 ? '--hook' : fromFile?.hooksSource ?? null;
  const loaded = merge([fromFile?.layer, fromEnv.layer, flagLayer], hooks, hooksSource, fromFile?.listenerSources);
  return { ...loaded, file };
}

/** Layers over the defaults, later ones winning; a `listeners` setting is completed from the merged top level. */
export function merge(layers: readonly (Layer | undefined)[], hooks: HookSpec[], hooksSource: string | null, listenerSources?: readonly string[]): Omit<Loaded, 'file'> {
  const cfg: BrokerConfig = { ...DEFAULTS, listeners: [], hooks };
  const out = cfg as unknown as Record<string, unknown>;
  const sources = new Map<keyof BrokerConfig, string>();
  let entries: { value: unknown; source: string } | undefined;
  for (const layer of layers) {
    for (const [key, s] of layer ?? []) {
      if (key === 'listeners') { entries = s; continue; }
      out[key] = s.value;
      sources.set(key, s.source);
    }
  }
  if (entries !== undefined) {
    cfg.listeners = (entries.value as ListenerEntry[]).map((e) => completeListener(e, cfg));
    sources.set('listeners', entries.source);
  }
  if (hooksSource !== null) sources.set('hooks', hooksSource);
  validate(cfg, listenerSources);
  return { config: cfg, sources };
}

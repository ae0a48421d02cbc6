// The effective configuration: defaults, then the file, then the environment, then the flags
// (each later source wins), then the checks that span settings.
import { DEFAULTS, type BrokerConfig } from '../config.ts';
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
  return { action: flags.printConfig ? 'print-config' : 'run', ...loadConfig(flags.layer, flags.config, env) };
}

function loadConfig(flagLayer: Layer, flagFile: string | null, env: Readonly<Record<string, string | undefined>>): Loaded {
  const fromEnv = readEnv(env);
  const file = flagFile ?? fromEnv.config;
  const fromFile = file === null ? null : readConfigFile(file);
  const cfg: BrokerConfig = { ...DEFAULTS, listeners: [] };
  const out = cfg as unknown as Record<string, unknown>;
  const sources = new Map<keyof BrokerConfig, string>();
  for (const layer of [fromFile?.layer, fromEnv.layer, flagLayer]) {
    for (const [key, s] of layer ?? []) {
      if (key === 'listeners') continue;
      out[key] = s.value;
      sources.set(key, s.source);
    }
  }
  const entries = fromFile?.layer.get('listeners');
  if (entries !== undefined) {
    cfg.listeners = (entries.value as ListenerEntry[]).map((e) => completeListener(e, cfg));
    sources.set('listeners', entries.source);
  }
  validate(cfg, fromFile?.listenerSources);
  return { config: cfg, sources, file };
}

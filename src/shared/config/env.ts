// SHOAL_<FLAG> environment variables (SHOAL_MAX_INFLIGHT=50). A SHOAL_ variable that names no
// setting is refused like an unknown flag, so a typo does not pass for a default; SHOAL_TEST_*
// belongs to the test suite and is left alone.
import { OPTIONS, envName } from './options.ts';
import type { Layer } from './layer.ts';
import { ConfigError, coerce } from './values.ts';

export const CONFIG_ENV = 'SHOAL_CONFIG';
const RESERVED_PREFIX = 'SHOAL_TEST_';
const byEnv = new Map(OPTIONS.map((o) => [envName(o.name), o]));

export interface EnvRead { config: string | null; layer: Layer }

export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvRead {
  const out: EnvRead = { config: null, layer: new Map() };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SHOAL_') || name.startsWith(RESERVED_PREFIX) || value === undefined) continue;
    if (name === CONFIG_ENV) { out.config = value; continue; }
    const spec = byEnv.get(name);
    if (spec === undefined) throw new ConfigError(name, `unknown setting (environment variables are SHOAL_ and a flag's name, e.g. SHOAL_MAX_INFLIGHT; see --help)`);
    out.layer.set(spec.key, { value: coerce(spec, value, name), source: name });
  }
  return out;
}

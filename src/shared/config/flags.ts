// The command line, read with node:util parseArgs. Its tokens (not its strict mode) are used
// because a boolean flag here takes both forms, `--retain-available` and
// `--retain-available=false`, which strict mode refuses; unknown flags and stray arguments
// are refused here instead.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ACTIONS, OPTIONS, byName } from './options.ts';
import { ConfigError, coerce } from './values.ts';
import type { Layer } from './layer.ts';

export interface FlagsRead {
  help: boolean;
  version: boolean;
  printConfig: boolean;
  config: string | null;
  /** --hook MODULE, in order (stacked after the config file's hooks:). */
  hooks: string[];
  layer: Layer;
}

const PARSE_OPTIONS: ParseArgsOptionsConfig = Object.fromEntries([
  ...OPTIONS.map((o) => [o.name, { type: o.type === 'bool' ? 'boolean' : 'string' }] as const),
  ...ACTIONS.map((a) => [a.name, { type: 'arg' in a ? 'string' : 'boolean', ...('short' in a ? { short: a.short } : {}) }] as const),
]);

export function readFlags(argv: readonly string[]): FlagsRead {
  const { tokens } = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const out: FlagsRead = { help: false, version: false, printConfig: false, config: null, hooks: [], layer: new Map() };
  // The first problem is the one reported, but reading goes on: a later --help still answers.
  let problem: ConfigError | null = null;
  const refuse = (e: ConfigError): void => { problem ??= e; };
  let lastBool: string | null = null; // `--allow-anonymous false` means `--allow-anonymous=false`, and is told so
  for (const t of tokens) {
    const afterBool = lastBool;
    lastBool = null;
    if (t.kind === 'positional') {
      refuse(new ConfigError(t.value, afterBool === null
        ? 'unexpected argument (flags are --name value or --name=value; see --help)'
        : `unexpected argument (a boolean flag takes its value after "=": ${afterBool}=${t.value})`));
      continue;
    }
    if (t.kind !== 'option') continue;
    const flag = `--${t.name}`;
    if (t.name === 'help' || t.name === 'version' || t.name === 'print-config') {
      if (t.value !== undefined) { refuse(new ConfigError(flag, 'takes no value')); continue; }
      if (t.name === 'help') out.help = true; else if (t.name === 'version') out.version = true; else out.printConfig = true;
      continue;
    }
    if (t.name === 'hook') {
      if (t.value === undefined || t.value === '') refuse(new ConfigError(flag, 'needs a module'));
      else out.hooks.push(t.value);
      continue;
    }
    if (t.name === 'config') {
      if (t.value === undefined) refuse(new ConfigError(flag, 'needs a value'));
      else out.config = t.value;
      continue;
    }
    const spec = byName.get(t.name);
    if (spec === undefined) { refuse(new ConfigError(t.rawName, 'unknown flag (see --help)')); continue; }
    if (spec.type !== 'bool' && t.value === undefined) { refuse(new ConfigError(flag, 'needs a value')); continue; }
    if (spec.type === 'bool' && t.value === undefined) lastBool = flag;
    try {
      out.layer.set(spec.key, { value: coerce(spec, t.value ?? true, flag), source: flag });
    } catch (err) {
      refuse(err as ConfigError);
    }
  }
  // --help and --version answer whatever else the line holds.
  if (problem !== null && !out.help && !out.version) throw problem;
  return out;
}

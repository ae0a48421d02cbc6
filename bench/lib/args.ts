// GNU-style option parsing (--name value, --name=value, --flag, --no-flag, --) that also
// takes the seed's Go-style single-dash names (-pairs 10, -dump) as aliases.
export class UsageError extends Error {}

export interface OptionSpec {
  /** Long name without dashes; also the key in the parsed values. */
  name: string;
  kind: 'string' | 'number' | 'flag';
  /** Other long names (e.g. conns for clients). */
  aliases?: string[];
  /** The seed's single-dash spelling, e.g. 'pairs' for -pairs. */
  seed?: string;
  /** Placeholder in --help, e.g. N. */
  arg?: string;
  help: string;
}

export type RawValue = string | boolean;

export interface ParsedArgs {
  values: Map<string, RawValue>;
  positionals: string[];
}

export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const byLong = new Map<string, OptionSpec>();
  const bySeed = new Map<string, OptionSpec>();
  for (const s of specs) {
    byLong.set(s.name, s);
    for (const a of s.aliases ?? []) byLong.set(a, s);
    if (s.seed !== undefined) bySeed.set(s.seed, s);
  }
  const values = new Map<string, RawValue>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    let negated = false;
    if (arg.startsWith('--')) {
      const [key, v] = splitEq(arg.slice(2));
      spec = byLong.get(key);
      if (spec === undefined && key.startsWith('no-')) {
        spec = byLong.get(key.slice(3));
        negated = spec?.kind === 'flag';
        if (!negated) spec = undefined;
      }
      if (spec === undefined) throw new UsageError(`unknown option --${key}`);
      inline = v;
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      const [key, v] = splitEq(arg.slice(1));
      if (key === 'h' || key === 'help') spec = byLong.get('help');
      else spec = bySeed.get(key);
      if (spec === undefined) throw new UsageError(`unknown option ${arg}`);
      inline = v;
    } else {
      positionals.push(arg);
      continue;
    }
    if (spec.kind === 'flag') {
      if (negated && inline !== undefined) throw new UsageError(`--no-${spec.name} takes no value`);
      values.set(spec.name, negated ? false : inline === undefined ? true : parseBool(spec.name, inline));
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option --${spec.name} needs a value`);
      inline = argv[++i];
    }
    values.set(spec.name, inline);
  }
  return { values, positionals };
}

function splitEq(s: string): [string, string | undefined] {
  const eq = s.indexOf('=');
  return eq < 0 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
}

function parseBool(name: string, v: string): boolean {
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw new UsageError(`--${name} is a flag; got "${v}"`);
}

/** Typed reads of parsed values, each with its own validation. */
export class Options {
  private readonly values: Map<string, RawValue>;
  constructor(parsed: ParsedArgs) {
    this.values = parsed.values;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  flag(name: string): boolean {
    return this.values.get(name) === true;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : fallback;
  }

  number(name: string, fallback: number, o: { min?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.values.get(name);
    if (typeof v !== 'string') return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got "${v}"`);
    if (o.integer === true && !Number.isInteger(n)) throw new UsageError(`--${name} needs a whole number, got "${v}"`);
    if (o.min !== undefined && n < o.min) throw new UsageError(`--${name} must be at least ${o.min}, got ${n}`);
    if (o.max !== undefined && n > o.max) throw new UsageError(`--${name} must be at most ${o.max}, got ${n}`);
    return n;
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(name, fallback, { min, max, integer: true });
  }
}

export function formatHelp(specs: OptionSpec[]): string {
  const rows = specs.map((s) => {
    const names = [`--${s.name}`, ...(s.aliases ?? []).map((a) => `--${a}`), ...(s.seed !== undefined ? [`-${s.seed}`] : [])];
    return [`${names.join(', ')}${s.arg !== undefined ? ` ${s.arg}` : ''}`, s.help];
  });
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, h]) => (l.length + 2 > width ? `  ${l}\n  ${''.padEnd(width)}${h}` : `  ${l.padEnd(width)}${h}`)).join('\n');
}

/**
 * A tool's command line: parsed options, or null once --help has been printed. More than
 * `maxPositionals` positional arguments is a usage error.
 */
export function parseToolArgs(argv: string[], specs: OptionSpec[], help: string, maxPositionals = 0): { parsed: ParsedArgs; o: Options } | null {
  const parsed = parseArgs(argv, specs);
  const o = new Options(parsed);
  if (o.flag('help')) { process.stdout.write(`${help}\n`); return null; }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  return { parsed, o };
}

// Turning one raw value (a flag's or environment variable's text, or a YAML scalar) into the
// typed value of its option. The same rules for every source, so `--retain-available=nope`,
// SHOAL_RETAIN_AVAILABLE=nope and `retain-available: nope` are refused alike.
import { ErrorCode, ShoalError } from '../errors.ts';
import type { OptionSpec } from './options.ts';

/** A refused setting; the message starts with its source (--flag, SHOAL_VAR or file:line). */
export class ConfigError extends ShoalError {
  constructor(source: string, what: string) {
    super(ErrorCode.CONFIG_INVALID, `${source}: ${what}`);
  }
}

const BOOLS: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false, yes: true, no: false };
const INTEGER = /^-?\d+$/;

function shown(raw: unknown): string {
  return JSON.stringify(raw) ?? String(raw);
}

/** The option's value for `raw`; throws a ConfigError naming `source`. Text comes from flags and env, any scalar from YAML. */
export function coerce(spec: OptionSpec, raw: unknown, source: string): unknown {
  switch (spec.type) {
    case 'bool': {
      const b = typeof raw === 'boolean' ? raw : typeof raw === 'string' || typeof raw === 'number' ? BOOLS[String(raw).toLowerCase()] : undefined;
      if (b === undefined) throw new ConfigError(source, `must be true, false, 1, 0, yes or no, got ${shown(raw)}`);
      return b;
    }
    case 'port':
    case 'int': {
      // An empty value (SHOAL_TLS_PORT=) or YAML null switches a port's listener off.
      if (spec.type === 'port' && (raw === null || raw === '')) return null;
      const min = spec.min ?? 0;
      const max = spec.max ?? 65535;
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && INTEGER.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(source, `must be an integer from ${min} to ${max}, got ${shown(raw)}`);
      return n;
    }
    case 'enum':
      if (typeof raw !== 'string' || !spec.values!.includes(raw)) throw new ConfigError(source, `must be one of ${spec.values!.join(', ')}, got ${shown(raw)}`);
      return raw;
    case 'duration': {
      const secs = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseDuration(raw.trim()) : NaN;
      if (!Number.isInteger(secs) || secs < 0) throw new ConfigError(source, `must be a duration such as 3600, 30s, 1h, 2d, 1w, 1m or 1y, got ${shown(raw)}`);
      return secs;
    }
    case 'string':
      if (typeof raw !== 'string') throw new ConfigError(source, `must be a string, got ${shown(raw)}`);
      return raw;
  }
}

// Mosquitto's persistent_client_expiration units (h d w m y, a month 30 days, a year 365), plus s.
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, h: 3600, d: 86400, w: 7 * 86400, m: 30 * 86400, y: 365 * 86400 };

/** "2d" -> 172800; plain digits are seconds; NaN when it is no duration. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,12})([shdwmy]?)$/.exec(text);
  if (m === null) return NaN;
  return Number(m[1]) * (m[2] === '' ? 1 : UNIT_SECONDS[m[2]!]!);
}

// --help and --print-config, both written from the option table.
import { stringify } from 'yaml';
import { DEFAULTS, type BrokerConfig } from '../config.ts';
import { ACTIONS, GROUPS, OPTIONS, type OptionSpec } from './options.ts';
import type { Loaded } from './load.ts';
import { bridgesYaml } from './bridges.ts';

const MASK = '********';
const WIDTH = 36;
const COLUMNS = 100;

function argOf(o: OptionSpec): string {
  if (o.arg !== undefined) return ` ${o.arg}`;
  switch (o.type) {
    case 'bool': return '[=BOOL]';
    case 'enum': return ` ${o.values!.join('|')}`;
    case 'int': case 'port': return ' N';
    case 'string': return ' VALUE';
    case 'duration': return ' DURATION';
  }
}

function defaultOf(o: OptionSpec): string {
  if (o.defaultText !== undefined) return o.defaultText;
  const v = DEFAULTS[o.key];
  return v === null ? 'off' : v === '' ? 'none' : String(v);
}

/** `  --flag ARG   help`, the help wrapped at COLUMNS under its own column. */
function line(left: string, help: string): string {
  const indent = ''.padEnd(WIDTH + 3);
  const rows: string[] = [];
  let row = '';
  for (const word of help.split(' ')) {
    if (row !== '' && indent.length + row.length + 1 + word.length > COLUMNS) { rows.push(row); row = word; } else row = row === '' ? word : `${row} ${word}`;
  }
  rows.push(row);
  const head = left.length < WIDTH ? `  ${left.padEnd(WIDTH)} ` : `  ${left}\n${indent}`;
  return head + rows.join(`\n${indent}`);
}

export function helpText(): string {
  const out = [
    'Usage: shoal [flags]    (or: npm start -- [flags])',
    '',
    'Every flag is also an environment variable, SHOAL_ and its name (SHOAL_MAX_INFLIGHT=50), and',
    'a key of the --config file (max-inflight: 50); flags win over the environment, which wins over',
    'the file. BOOL is true, false, 1, 0, yes or no (a bare --flag means true).',
    '',
    'General:',
    ...ACTIONS.map((a) => line(`--${a.name}${'arg' in a ? ` ${a.arg}` : ''}${'short' in a ? `, -${a.short}` : ''}`, a.help)),
  ];
  for (const group of GROUPS) {
    const rows = OPTIONS.filter((o) => o.group === group);
    if (rows.length === 0) continue;
    out.push('', `${group}:`);
    for (const o of rows) out.push(line(`--${o.name}${argOf(o)}`, `${o.help} (default: ${defaultOf(o)})`));
  }
  out.push('', 'More listeners of any transport: the config file\'s listeners: list (see examples/shoal.yaml).');
  out.push('Bridges to other brokers: the config file\'s bridges: list (docs/bridges.md).');
  return out.join('\n');
}

/** The effective configuration as a config file would hold it, with where each value came from. */
export function printConfig(loaded: Loaded, options: readonly OptionSpec[] = OPTIONS): string {
  const { config, sources } = loaded;
  const out = [
    '# Effective configuration (flags > environment > config file > defaults).',
    `# Config file: ${loaded.file ?? 'none'}`,
  ];
  for (const group of GROUPS) {
    const rows = options.filter((o) => o.group === group);
    if (rows.length === 0) continue;
    out.push('', `# ${group}`);
    for (const o of rows) {
      const v = config[o.key];
      const shown = o.secret === true && v !== '' && v !== null ? MASK : v;
      const from = sources.get(o.key) ?? 'default';
      out.push(`${stringify({ [o.name]: shown }).trimEnd()}  # ${from}`);
    }
  }
  out.push('', `# ${sources.get('listeners') ?? 'no listeners: list'}`);
  out.push(stringify({ listeners: config.listeners.map(listenerYaml) }, { flow: false }).trimEnd());
  out.push('', `# ${sources.get('hooks') ?? 'no hooks'}`);
  out.push(stringify({ hooks: config.hooks }, { flow: false }).trimEnd());
  out.push('', `# ${sources.get('bridges') ?? 'no bridges'}`);
  out.push(stringify({ bridges: bridgesYaml(config.bridges, MASK) }, { flow: false }).trimEnd());
  return out.join('\n');
}

function listenerYaml(l: BrokerConfig['listeners'][number]): Record<string, unknown> {
  return { transport: l.transport, host: l.host, port: l.port, cert: l.cert, key: l.key, ca: l.ca, 'client-auth': l.clientAuth, path: l.path };
}

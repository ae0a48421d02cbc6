// The option table is the one description of every setting: it covers the whole BrokerConfig,
// examples/shoal.yaml documents each row with its default, and --print-config masks secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULTS } from '../../src/shared/config.ts';
import { readConfigFile } from '../../src/shared/config/file.ts';
import { OPTIONS, envName, type OptionSpec } from '../../src/shared/config/options.ts';
import { printConfig } from '../../src/shared/config/print.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { REPO_ROOT, envWith, run } from './run.ts';

const EXAMPLE = join(REPO_ROOT, 'examples', 'shoal.yaml');

test('every BrokerConfig field but listeners has exactly one option row, and names are unique', () => {
  const keys = OPTIONS.map((o) => o.key).sort();
  assert.deepEqual(keys, Object.keys(DEFAULTS).filter((k) => k !== 'listeners' && k !== 'hooks' && k !== 'bridges').sort());
  assert.equal(new Set(OPTIONS.map((o) => o.name)).size, OPTIONS.length);
  assert.equal(envName('max-inflight'), 'SHOAL_MAX_INFLIGHT');
});

test('examples/shoal.yaml documents every key with a comment, and its "# default" lines hold the defaults', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const lines = text.split('\n');
  const { layer } = readConfigFile(EXAMPLE);
  let checked = 0;
  for (const o of OPTIONS) {
    const at = lines.findIndex((l) => new RegExp(`^(# )?${o.name}: .*# default`).test(l));
    assert.ok(at > 0, `${o.name} is in the example`);
    assert.match(lines[at - 1]!, /^# \S/, `${o.name} has a comment above it`);
    if (/# default$/.test(lines[at]!)) {
      assert.deepEqual(layer.get(o.key)?.value, DEFAULTS[o.key], `${o.name}: the example says default`);
      checked++;
    } else {
      assert.ok(lines[at]!.startsWith('#') && o.defaultText !== undefined, `${o.name}: only machine-dependent defaults are left commented out`);
    }
  }
  assert.deepEqual(layer.get('listeners')?.value, []);
  assert.ok(checked >= OPTIONS.length - 3, `checked ${checked}`);
});

test('examples/shoal.yaml loads in the broker, with its listeners example too', { skip: isMosquitto ? 'Shoal only' : false }, () => {
  const r = run(['--config', EXAMPLE, '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(EXAMPLE, 'utf8');
  const block = /# listeners-example-begin\n([\s\S]*?)# listeners-example-end/.exec(text)![1]!.replace(/^# ?/gm, '');
  const dir = mkdtempSync(join(tmpdir(), 'shoal-example-'));
  try {
    const f = join(dir, 'listeners.yaml');
    writeFileSync(f, block);
    const p = run(['--config', f, '--print-config'], envWith());
    assert.equal(p.code, 0, p.stderr);
    const listeners = (parse(p.stdout) as { listeners: { transport: string; host: string; port: number; 'client-auth': boolean }[] }).listeners;
    assert.deepEqual(listeners.map((l) => `${l.transport} ${l.host} ${l.port} ${l['client-auth']}`), [
      'tcp ::1 1883 false', 'tls 0.0.0.0 8883 false', 'tls 0.0.0.0 8884 true', 'ws 0.0.0.0 8080 false', 'wss 0.0.0.0 8081 false',
    ]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('--print-config masks every option marked secret (and only when it is set)', () => {
  const token: OptionSpec = { name: 'some-token', key: 'responseInformation', type: 'string', group: 'Authentication', help: 'a secret', secret: true };
  const table = [...OPTIONS.filter((o) => o.key !== token.key), token];
  const config = { ...DEFAULTS, responseInformation: 's3cret-value' };
  const shown = printConfig({ config, sources: new Map([['responseInformation', 'SHOAL_SOME_TOKEN']]), file: null }, table);
  assert.doesNotMatch(shown, /s3cret-value/);
  assert.match(shown, /^some-token: "\*+" {2}# SHOAL_SOME_TOKEN$/m);
  assert.match(printConfig({ config, sources: new Map(), file: null }), /^response-information: s3cret-value {2}# default$/m, 'a row not marked secret is shown');
  const unset = printConfig({ config: DEFAULTS, sources: new Map(), file: null }, table);
  assert.match(unset, /^some-token: "" {2}# default$/m);
});

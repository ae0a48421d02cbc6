// The configuration as an operator meets it: bin/shoal.js run as a child process with flags,
// SHOAL_ environment variables and a --config file. Precedence is read back through
// --print-config; every kind of refusal is one line naming its source, and exit code 2.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isMosquitto } from '../helpers/broker.ts';
import { envWith, run } from './run.ts';

const skip = isMosquitto ? 'Shoal only: its own command line' : false;
const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** --print-config's YAML, parsed. */
function effective(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const r = run([...args, '--print-config'], envWith(env));
  assert.equal(r.code, 0, r.stderr);
  return parse(r.stdout) as Record<string, unknown>;
}

/** A refusal: exit code 2, nothing on stdout, exactly one line on stderr; returns it. */
function refused(args: string[], env: Record<string, string> = {}): string {
  const r = run(args, envWith(env));
  assert.equal(r.code, 2, `exit code for ${args.join(' ')}\n${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  return lines[0]!;
}

describe('configuration sources', { skip }, () => {
  test('precedence: flags > environment > file > defaults, per key', () => {
    const f = file('max-inflight: 11\nreceive-maximum: 22\nmax-qos: 1\nsys-interval: 7\n');
    const c = effective(['--config', f, '--max-inflight', '33'], { SHOAL_MAX_INFLIGHT: '44', SHOAL_RECEIVE_MAXIMUM: '55' });
    assert.equal(c['max-inflight'], 33, 'flag over env and file');
    assert.equal(c['receive-maximum'], 55, 'env over file');
    assert.equal(c['max-qos'], 1, 'file over default');
    assert.equal(c['sys-interval'], 7);
    assert.equal(c['topic-alias-maximum'], 64, 'default');
  });

  test('--print-config says where each value came from', () => {
    const f = file('port: 1999\nmax-qos: 1\n');
    const r = run(['--config', f, '--port', '2000', '--print-config'], envWith({ SHOAL_MAX_INFLIGHT: '9' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^port: 2000 {2}# --port$/m);
    assert.match(r.stdout, /^max-inflight: 9 {2}# SHOAL_MAX_INFLIGHT$/m);
    assert.match(r.stdout, new RegExp(`^max-qos: 1 {2}# ${f.replaceAll('.', '\\.')}:2$`, 'm'));
    assert.match(r.stdout, /^receive-maximum: 1024 {2}# default$/m);
    assert.match(r.stdout, new RegExp(`^# Config file: ${f.replaceAll('.', '\\.')}$`, 'm'));
  });

  test('--print-config\'s output is a config file that gives the same configuration back', () => {
    const f = file('max-qos: 1\nws-port: 0\nlisteners:\n  - {transport: tcp, host: 127.0.0.1, port: 0}\n  - {transport: ws, port: 0, path: /x}\n');
    const first = run(['--config', f, '--max-inflight', '5', '--print-config']);
    assert.equal(first.code, 0, first.stderr);
    const again = run(['--config', file(first.stdout), '--print-config']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(parse(again.stdout), parse(first.stdout));
  });

  test('SHOAL_CONFIG names the file; --config wins over it', () => {
    const a = file('max-qos: 1\n');
    const b = file('max-qos: 0\n');
    assert.equal(effective([], { SHOAL_CONFIG: a })['max-qos'], 1);
    assert.equal(effective(['--config', b], { SHOAL_CONFIG: a })['max-qos'], 0);
    assert.equal(effective(['-c', b])['max-qos'], 0);
  });

  test('booleans take true/false/1/0/yes/no from every source, and a bare flag means true', () => {
    for (const [raw, want] of [['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['YES', true]] as const) {
      assert.equal(effective([`--retain-available=${raw}`])['retain-available'], want, `flag ${raw}`);
      assert.equal(effective([], { SHOAL_RETAIN_AVAILABLE: raw })['retain-available'], want, `env ${raw}`);
      assert.equal(effective(['--config', file(`retain-available: ${raw}\n`)])['retain-available'], want, `file ${raw}`);
    }
    assert.equal(effective(['--allow-anonymous'])['allow-anonymous'], true);
    assert.equal(effective(['--config', file('allow-anonymous: true\n'), '--allow-anonymous=false'])['allow-anonymous'], false);
  });

  test('every flag keeps its name: all of them are accepted together', () => {
    const c = effective([
      '--host', '127.0.0.1', '--port', '0', '--shards', '2', '--accept', 'main', '--data-dir', join(dir, 'd'), '--persistence', 'memory',
      '--log-level', 'warn', '--log-format', 'json', '--sys-interval', '0', '--max-packet-size', '4096', '--max-inflight', '5', '--receive-maximum', '6',
      '--max-queued-messages', '7', '--max-queued-bytes', '8', '--max-store-bytes', '9', '--store-full', 'drop', '--max-queued-qos0', '10',
      '--topic-alias-maximum', '11', '--max-keepalive', '12', '--connect-timeout', '1000', '--socket-high-water', '8192', '--max-client-backlog', '65536',
      '--slow-client-ms', '100', '--ring-capacity', '65536', '--allow-anonymous', '--response-information', 'r/%c',
      '--max-qos', '1', '--retain-available=false', '--wildcard-subscriptions=false', '--subscription-identifiers=false', '--shared-subscriptions=false',
      '--ws-port', '0', '--ws-path', '/mqtt', '--test-hooks', '--start-timeout', '5000',
    ]);
    assert.equal(c['store-full'], 'drop');
    assert.equal(c['ws-path'], '/mqtt');
    assert.equal(c['shared-subscriptions'], false);
  });
});

describe('refusals: one line naming the source, exit code 2', { skip }, () => {
  test('an unknown flag, a flag without its value, a stray argument', () => {
    assert.equal(refused(['--max-inflihgt', '5']), 'shoal: --max-inflihgt: unknown flag (see --help)');
    assert.equal(refused(['--port']), 'shoal: --port: needs a value');
    assert.match(refused(['--port', '1', 'extra']), /^shoal: extra: unexpected argument/);
    assert.equal(refused(['--retain-available', 'false']), 'shoal: false: unexpected argument (a boolean flag takes its value after "=": --retain-available=false)');
    assert.equal(refused(['--port', 'x', '--bogus']), 'shoal: --port: must be an integer from 0 to 65535, got "x"', 'the first problem');
    assert.equal(refused(['--print-config=yes']), 'shoal: --print-config: takes no value');
  });

  test('bad values from a flag, from the environment and from the file', () => {
    assert.equal(refused(['--port', '70000']), 'shoal: --port: must be an integer from 0 to 65535, got "70000"');
    assert.equal(refused(['--persistence', 'disk']), 'shoal: --persistence: must be one of durable, fast, memory, got "disk"');
    assert.equal(refused([], { SHOAL_MAX_INFLIGHT: 'lots' }), 'shoal: SHOAL_MAX_INFLIGHT: must be an integer from 1 to 65535, got "lots"');
    assert.equal(refused([], { SHOAL_ALLOW_ANONYMOUS: 'maybe' }), 'shoal: SHOAL_ALLOW_ANONYMOUS: must be true, false, 1, 0, yes or no, got "maybe"');
    const f = file('# a comment\nport: 1883\nmax-inflight: -1\n');
    assert.equal(refused(['--config', f]), `shoal: ${f}:3: max-inflight: must be an integer from 1 to 65535, got -1`);
    const g = file('port: 1883\nretain-available: nope\n');
    assert.equal(refused(['--config', g]), `shoal: ${g}:2: retain-available: must be true, false, 1, 0, yes or no, got "nope"`);
    const h = file('host:\n  - a\n');
    assert.equal(refused(['--config', h]), `shoal: ${h}:2: host: must be a single value`);
  });

  test('unknown keys in the file and unknown SHOAL_ variables (SHOAL_TEST_* is the test suite\'s)', () => {
    const f = file('port: 1883\n\nmax-inflihgt: 5\n');
    assert.equal(refused(['--config', f]), `shoal: ${f}:3: unknown key "max-inflihgt" (keys are the long flag names and listeners; see --help)`);
    assert.match(refused([], { SHOAL_MAX_INFLIHGT: '5' }), /^shoal: SHOAL_MAX_INFLIHGT: unknown setting/);
    assert.equal(effective([], { SHOAL_TEST_SOMETHING: 'x' })['port'], 1883);
    assert.match(refused(['--config', file('help: true\n')]), /unknown key "help"/);
  });

  test('a file that is missing, not YAML, or not a map', () => {
    assert.equal(refused(['--config', join(dir, 'nope.yaml')]), `shoal: ${join(dir, 'nope.yaml')}: cannot read the config file: ENOENT`);
    const bad = file('port: 1883\nmax-qos: [1\n');
    assert.match(refused(['--config', bad]), new RegExp(`^shoal: ${bad.replaceAll('.', '\\.')}:\\d: not valid YAML: `));
    const dup = file('port: 1\nport: 2\n');
    assert.match(refused(['--config', dup]), new RegExp(`^shoal: ${dup.replaceAll('.', '\\.')}:2: not valid YAML: .*unique`, 'i'));
    const list = file('- port\n');
    assert.equal(refused(['--config', list]), `shoal: ${list}:1: the config file must be a map of settings (key: value)`);
    assert.equal(effective(['--config', file('')])['port'], 1883, 'an empty file sets nothing');
  });

  test('settings that cannot work together name the settings', () => {
    assert.match(refused(['--ring-capacity', '100000']), /^shoal: --ring-capacity must be a power of two/);
    assert.match(refused(['--tls-client-auth']), /TLS flags given without --tls-port or --wss-port/);
    assert.match(refused(['--port', '1883', '--ws-port', '1883']), /two listeners on 0\.0\.0\.0:1883 .*must differ/);
  });
});

describe('help and version', { skip }, () => {
  test('--help lists every flag once, grouped by topic, with its default; -h too', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0);
    assert.equal(run(['-h']).stdout, r.stdout);
    const joined = r.stdout.replace(/\n {39}/g, ' '); // continuation lines of wrapped help
    const groups = [...r.stdout.matchAll(/^(\S[^:\n]*):$/gm)].map((m) => m[1]);
    assert.deepEqual(groups, ['General', 'Listeners', 'TLS and WebSocket', 'Shards and storage', 'Limits and flow control', 'MQTT 5 capabilities', 'Authentication', 'Logging and $SYS', 'Admin HTTP', 'Cluster', 'Testing']);
    assert.match(joined, /^ {2}--max-inflight N +outbound QoS 1\/2 messages in flight per client \(default: 100\)$/m);
    assert.match(joined, /^ {2}--retain-available\[=BOOL\] .*\(default: true\)$/m);
    for (const flag of ['--config FILE', '--print-config', '--version', '--log-format pretty|json']) assert.match(r.stdout, new RegExp(`^ {2}${flag.replace('|', '\\|')}`, 'm'));
    assert.equal(r.stdout.match(/^ {2}--port /gm)?.length, 1);
    assert.ok(r.stdout.split('\n').every((l) => l.length <= 100 || !l.includes(' ', 40)), 'help wraps at 100 columns');
  });

  test('--help and --version answer even beside a bad flag', () => {
    assert.equal(run(['--bogus', '--help']).code, 0);
    assert.match(run(['--port', 'x', '--version']).stdout, /^shoal \d+\.\d+\.\d+\n$/);
  });
});

describe('--log-format', { skip }, () => {
  test('pretty prints readable lines on stderr, json one object a line; the start line on stdout is the same', async () => {
    const { QUICK, startLineOf } = await import('./run.ts');
    const pretty = await startLineOf([...QUICK, '--log-format', 'pretty']);
    const json = await startLineOf([...QUICK, '--log-format', 'json']);
    assert.match(pretty.stderr, /INFO.*: shutting down/);
    assert.doesNotMatch(pretty.stderr, /^\{/m);
    const events = json.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    assert.ok(events.some((e) => e.msg === 'shutting down' && e.level === 30), json.stderr);
    const shape = (line: string): string => line.replace(/:\d+ /, ':P ');
    assert.equal(shape(pretty.line), shape(json.line));
    assert.match(json.line, /^shoal \S+ listening on mqtt:\/\/127\.0\.0\.1:\d+ \(1 shard, persistence memory\)$/);
  });

  test('without the flag: json when stderr is not a terminal', () => {
    assert.match(run(['--print-config']).stdout, /^log-format: json {2}# default$/m);
  });
});

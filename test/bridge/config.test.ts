// A bad bridges: list stops the start with one line naming file:line and exit code 2; a good one
// shows in --print-config with its password masked; createBroker names options.bridges[i].key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObject } from '../../src/shared/config/object.ts';
import { readConfigFile } from '../../src/shared/config/file.ts';
import type { BridgeConfig } from '../../src/shared/config/bridges.ts';
import { QUICK, REPO_ROOT, run } from '../config/run.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('shoal-bridge-config-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

function start(yaml: string): ReturnType<typeof run> {
  const file = join(dir, 'shoal.yaml');
  writeFileSync(file, yaml);
  return run([...QUICK, '--config', file, '--print-config']);
}

const good = (extra: string, topic = '      - a/# out 1'): string => `port: 0
bridges:
  - name: b1
    address: 127.0.0.1:1884
${extra}    topics:
${topic}
`;

const bad: [what: string, yaml: string, line: number, message: RegExp][] = [
  ['not a list', 'bridges: {name: x}\n', 1, /bridges: must be a list/],
  ['no name', 'bridges:\n  - address: h:1\n    topics: [a]\n', 2, /bridges\[0\]\.name: needs a name/],
  ['unknown key', good('    colour: red\n'), 5, /bridges\[0\]\.colour: unknown key/],
  ['bad address', good('').replace('127.0.0.1:1884', 'h:99999'), 4, /address: must be host:port/],
  ['bad version', good('    protocol-version: "3.1"\n'), 5, /protocol-version: must be 3\.1\.1 or 5/],
  ['bad direction', good('', '      - a/# sideways 1'), 6, /topics\[0\]\.direction: must be in, out or both/],
  ['bad qos', good('', '      - {pattern: a/#, qos: 3}'), 6, /topics\[0\]\.qos: must be 0, 1 or 2/],
  ['bad filter', good('', '      - a/#/b out 1'), 6, /topics\[0\]\.pattern: "a\/#\/b" is not a topic filter/],
  ['wildcard prefix', good('', '      - a/# out 1 x/+/ ""'), 6, /local-prefix: must not hold wildcards/],
  ['cert without key', good('    cert: c.pem\n'), 5, /cert and key go together/],
  ['two of a name', good('').replace('bridges:\n', 'bridges:\n  - {name: b1, address: "h:1", topics: [x]}\n'), 4, /"b1" is used twice/],
  ['bad restart-timeout', good('    restart-timeout: "30 1"\n'), 5, /restart-timeout: must be "base cap"/],
];

for (const [what, yaml, line, message] of bad) {
  test(`bridges config refused with one line and exit code 2: ${what}`, () => {
    const r = start(yaml);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`shoal\\.yaml:${line}: `), r.stderr);
    assert.match(lines[0]!, message);
  });
}

test('bridges config: --print-config shows the bridge with defaults filled in and the password masked', () => {
  const r = start(good('    password: hunter2\n    protocol-version: 3.1.1\n', '      - sensors/# both 2 "" site/'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('hunter2'));
  assert.match(r.stdout, /password: "?\*{8}"?/);
  assert.match(r.stdout, /client-id: shoal-bridge-b1/);
  assert.match(r.stdout, /protocol-version: 3\.1\.1/);
  assert.match(r.stdout, /remote-prefix: site\//);
});

test('bridges config: createBroker options are checked by the same rules, naming options.bridges[i].key', () => {
  assert.throws(() => loadObject({ bridges: [{ name: 'x', address: 'h:1', topics: [{ pattern: 'a', qos: 5 }] }] }), /options\.bridges\[0\]\.topics\[0\]\.qos: bridges\[0\]\.topics\[0\]\.qos: must be 0, 1 or 2/);
  const { config } = loadObject({ bridges: [{ name: 'x', address: ['h:1', '[::1]:2'], protocolVersion: '3.1.1', topics: ['a/# in 2 l/ r/'] }] });
  assert.deepEqual(config.bridges[0]!.addresses, [{ host: 'h', port: 1 }, { host: '::1', port: 2 }]);
  assert.equal(config.bridges[0]!.protocolVersion, 4);
  assert.deepEqual(config.bridges[0]!.topics, [{ pattern: 'a/#', direction: 'in', qos: 2, localPrefix: 'l/', remotePrefix: 'r/' }]);
});

test('bridges config: the example in examples/shoal.yaml loads', () => {
  const text = readFileSync(join(REPO_ROOT, 'examples', 'shoal.yaml'), 'utf8');
  const block = /# bridges-example-begin\n([\s\S]*?)# bridges-example-end/.exec(text)![1]!.replace(/^# ?/gm, '');
  const file = join(dir, 'example.yaml');
  writeFileSync(file, block);
  const [b] = readConfigFile(file).layer.get('bridges')!.value as BridgeConfig[];
  assert.equal(b!.name, 'cloud');
  assert.equal(b!.addresses.length, 2);
  assert.equal(b!.tls, true);
  assert.deepEqual(b!.topics.map((t) => `${t.direction} ${t.remotePrefix}${t.pattern}`), ['out site-7/sensors/#', 'in site-7/commands/#']);
});

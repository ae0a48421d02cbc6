import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Options, parseArgs, UsageError, type OptionSpec } from '../../bench/lib/args.ts';
import { COMMON_SPECS, parseSource, readCommon, splitHostPort } from '../../bench/lib/common-options.ts';

const SPECS: OptionSpec[] = [
  { name: 'clients', kind: 'string', aliases: ['conns'], seed: 'conns', help: '' },
  { name: 'pairs', kind: 'string', seed: 'pairs', help: '' },
  ...COMMON_SPECS,
];

const read = (argv: string[]) => {
  const p = parseArgs(argv, SPECS);
  return { p, o: new Options(p) };
};

test('GNU long options, = form, and the seed single-dash aliases', () => {
  const { o, p } = read(['--pairs', '3', '--qos=2', '-conns', '7', '-dump', '--json', 'topic', '--', '--not-an-option']);
  assert.equal(o.int('pairs', 100), 3);
  assert.equal(o.int('clients', 10), 7);
  assert.equal(o.int('qos', 0), 2);
  assert.equal(o.flag('dump'), true);
  assert.equal(o.flag('json'), true);
  assert.deepEqual(p.positionals, ['topic', '--not-an-option']);
  assert.equal(read(['--conns', '4']).o.int('clients', 10), 4);
  assert.equal(read(['-pairs=9']).o.int('pairs', 100), 9);
  assert.equal(read(['--json', '--no-json']).o.flag('json'), false);
});

test('unknown options, missing values and bad numbers are usage errors', () => {
  assert.throws(() => read(['--nope']), UsageError);
  assert.throws(() => read(['-qos', '1']), UsageError); // --qos has no seed spelling
  assert.throws(() => read(['--pairs']), UsageError);
  assert.throws(() => read(['--pairs', 'x']).o.int('pairs', 1), UsageError);
  assert.throws(() => read(['--pairs', '1.5']).o.int('pairs', 1), UsageError);
  assert.throws(() => readCommon(read(['--qos', '3']).o, { payloadSize: 16, keepalive: 0 }), UsageError);
  assert.throws(() => readCommon(read(['--protocol', '4.0']).o, { payloadSize: 16, keepalive: 0 }), UsageError);
  assert.throws(() => readCommon(read(['--payload-size', '8']).o, { payloadSize: 16, keepalive: 0 }), UsageError);
  assert.throws(() => readCommon(read(['--gate', 'p99<']).o, { payloadSize: 16, keepalive: 0 }), UsageError);
  assert.throws(() => readCommon(read(['--host', 'h:1884', '--port', '1885']).o, { payloadSize: 16, keepalive: 0 }), UsageError);
});

test('common defaults follow the seed', () => {
  const c = readCommon(read([]).o, { payloadSize: 16, keepalive: 0 });
  assert.equal(c.host, 'localhost');
  assert.equal(c.port, 1883);
  assert.equal(c.protocol, '3.1');
  assert.equal(c.level, 3);
  assert.equal(c.qos, 0);
  assert.equal(c.subQos, 1);
  assert.equal(c.timeoutMs, 10_000);
  assert.equal(readCommon(read(['--qos', '2']).o, { payloadSize: 16, keepalive: 0 }).subQos, 2);
  assert.equal(readCommon(read(['-host', '127.0.0.1:1999']).o, { payloadSize: 16, keepalive: 0 }).port, 1999);
});

test('host:port and source ranges', () => {
  assert.deepEqual(splitHostPort('localhost:1883'), ['localhost', 1883]);
  assert.deepEqual(splitHostPort('[::1]:1884'), ['::1', 1884]);
  assert.deepEqual(splitHostPort('127.0.0.1'), ['127.0.0.1', undefined]);
  assert.deepEqual(parseSource('127.0.0.1-127.0.0.3'), ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  assert.deepEqual(parseSource('127.0.0.5-6,10.0.0.1'), ['127.0.0.5', '127.0.0.6', '10.0.0.1']);
  assert.equal(parseSource('127.0.0.1-127.0.1.0').length, 256);
  assert.throws(() => parseSource('127.0.0.9-127.0.0.1'), UsageError);
  assert.throws(() => parseSource('localhost'), UsageError);
});

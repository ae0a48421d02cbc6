// Regression tests for the start-up defects a new user hit (issue #14), one test each, named
// after the defect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUICK, run, startLineOf } from './run.ts';
import { isMosquitto } from '../helpers/broker.ts';

const skip = isMosquitto ? 'Shoal only: its own command line' : false;

for (const name of ['tmp.AbC123', 'shoal.d']) {
  test(`--data-dir whose last name has a dot (${name}) opens instead of failing with "Is a directory"`, { skip }, async () => {
    const parent = mkdtempSync(join(tmpdir(), 'shoal-dot-'));
    try {
      const dir = join(parent, name);
      const r = await startLineOf([...QUICK, '--persistence', 'durable', '--data-dir', dir]);
      assert.match(r.line, new RegExp(`data ${dir.replaceAll('.', '\\.')}\\)$`));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(dir).sort(), ['data.mdb', 'lock.mdb'], 'the environment lives inside the directory');
    } finally { rmSync(parent, { recursive: true, force: true }); }
  });
}

test('--data-dir /proc/nope stops at once with one line naming the directory, instead of hanging', { skip }, () => {
  const started = Date.now();
  const r = run([...QUICK, '--persistence', 'durable', '--data-dir', '/proc/nope']);
  assert.equal(r.code, 1, `exit code (null = killed by the 20 s timeout: a hang)\n${r.stderr}`);
  assert.ok(Date.now() - started < 15_000);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^shoal: cannot create data directory \/proc\/nope: ENOENT/);
  assert.equal(r.stdout, '');
});

test('a start-up step that takes too long stops the start with what it waited for (--start-timeout)', { skip }, () => {
  // 100 ms is less than a shard thread needs to load its modules, so the wait for the shards times out.
  const r = run([...QUICK, '--start-timeout', '100']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), /^shoal: gave up after 100 ms waiting for the shards to start .* \(SHOAL_START_TIMEOUT\)$/);
});

test('--retain-available=nope is refused, not taken as true', { skip }, () => {
  const r = run([...QUICK, '--retain-available=nope']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'shoal: --retain-available: must be true, false, 1, 0, yes or no, got "nope"\n');
  assert.equal(r.stdout, '');
});

test('--version prints the version from package.json', { skip }, async () => {
  const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
  const r = run(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `shoal ${version}\n`);
});

test('the start line shows an IPv6 host in brackets and says "1 shard"', { skip }, async () => {
  const r = await startLineOf([...QUICK, '--host', '::1']);
  assert.match(r.line, /^shoal \S+ listening on mqtt:\/\/\[::1\]:\d+ \(1 shard, persistence memory\)$/);
  const two = await startLineOf([...QUICK, '--shards', '2']);
  assert.match(two.line, /^shoal \S+ listening on mqtt:\/\/127\.0\.0\.1:\d+ \(2 shards, persistence memory\)$/);
});

// Transport flags are checked at start-up: a missing, unreadable or mismatched certificate or
// key is one line on stderr with a stable code and exit code 1 (not a crash in a shard), and
// flag combinations that cannot work are refused like any bad flag (exit code 2).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMosquitto } from '../helpers/broker.ts';
import { hasOpenssl, skipWithoutOpenssl, testCerts } from '../helpers/tls.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own flags' : false);
const SHOAL_BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'shoal.js');

function start(args: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [SHOAL_BIN, '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--persistence', 'memory', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('transport flags', { skip }, () => {
  test('a missing, non-PEM or mismatched certificate or key: one line with SHOAL_TLS_INVALID, exit code 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-badtls-'));
    try {
      const notPem = join(dir, 'not.pem');
      writeFileSync(notPem, 'hello\n');
      const broken = join(dir, 'broken.pem');
      writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      const otherKey = join(dir, 'other.key');
      writeFileSync(otherKey, certs!.rogueKey);
      const c = certs!;
      const cases: [string, string[], RegExp][] = [
        ['missing certificate', ['--tls-port', '0', '--tls-cert', join(dir, 'nope.pem'), '--tls-key', c.keyFile], /--tls-cert .*nope\.pem: ENOENT/],
        ['missing key (wss)', ['--wss-port', '0', '--tls-cert', c.certFile, '--tls-key', join(dir, 'nope.key')], /--tls-key .*nope\.key: ENOENT/],
        ['not a PEM file', ['--tls-port', '0', '--tls-cert', notPem, '--tls-key', c.keyFile], /not a PEM file/],
        ['a PEM that does not parse', ['--tls-port', '0', '--tls-cert', broken, '--tls-key', c.keyFile], /--tls-cert .*broken\.pem/],
        ['a key of another certificate', ['--tls-port', '0', '--tls-cert', c.certFile, '--tls-key', otherKey], /mismatch/i],
        ['a missing CA file', ['--tls-port', '0', '--tls-cert', c.certFile, '--tls-key', c.keyFile, '--tls-ca', join(dir, 'nope-ca.pem'), '--tls-client-auth'], /--tls-ca .*ENOENT/],
      ];
      for (const [what, args, pattern] of cases) {
        const r = start(args);
        assert.equal(r.code, 1, `${what}: exit code\n${r.stderr}`);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
        assert.match(lines[0]!, /^shoal: .*\(SHOAL_TLS_INVALID\)$/, what);
        assert.match(lines[0]!, pattern, what);
        assert.doesNotMatch(r.stdout, /listening/, what);
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('flag combinations that cannot work are refused (exit code 2)', () => {
    const c = certs!;
    const cases: [string, string[], RegExp][] = [
      ['--tls-port without a certificate', ['--tls-port', '0'], /--tls-port needs --tls-cert and --tls-key/],
      ['--wss-port without a key', ['--wss-port', '0', '--tls-cert', c.certFile], /--wss-port needs --tls-cert and --tls-key/],
      ['--tls-client-auth without --tls-ca', ['--tls-port', '0', '--tls-cert', c.certFile, '--tls-key', c.keyFile, '--tls-client-auth'], /--tls-client-auth needs --tls-ca/],
      ['a certificate without a TLS port', ['--tls-cert', c.certFile, '--tls-key', c.keyFile], /without --tls-port or --wss-port/],
      ['a path that is not a path', ['--ws-port', '0', '--ws-path', 'mqtt'], /--ws-path must start with \//],
      ['two listeners on one port', ['--port', '18830', '--ws-port', '18830'], /must differ/],
    ];
    for (const [what, args, pattern] of cases) {
      const r = start(args);
      assert.equal(r.code, 2, `${what}: exit code\n${r.stderr}`);
      assert.match(r.stderr, pattern, what);
    }
  });

  test('--help lists the transport flags', () => {
    const r = spawnSync(process.execPath, [SHOAL_BIN, '--help'], { encoding: 'utf8' });
    for (const flag of ['--tls-port', '--ws-port', '--wss-port', '--tls-cert', '--tls-key', '--tls-ca', '--tls-client-auth', '--ws-path']) assert.match(r.stdout, new RegExp(`^  ${flag}`, 'm'));
  });
});

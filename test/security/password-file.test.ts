// Mosquitto's password file format in Shoal's reader: files the real mosquitto_passwd writes
// (PBKDF2 $7$, SHA-512 $6$, creates and updates) parse and verify; plain text is refused with
// file and line unless allowed; SCRAM verifier lines keep their fields for the AUTH exchange.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../src/shared/errors.ts';
import {
  DECOY_SECRET, decodeSecret, encodeHash, hashPassword, loadPasswordFile, parsePasswordFile, verifyPassword, verifySecret,
} from '../../src/shared/auth/password-file.ts';
import { scramVerifier } from '../../src/worker/auth/users.ts';

const hasPasswd = spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status === 0;
const skip = hasPasswd ? false : 'mosquitto_passwd is not installed';

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-pw-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const mp = (...args: string[]) => {
  const r = spawnSync('mosquitto_passwd', args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
};

test('password file written by mosquitto_passwd (-c -b, then -b updates and adds, -H sha512) verifies in Shoal', { skip }, () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    mp('-c', '-b', f, 'alice', 'first');
    mp('-b', f, 'bob', 'b:o b');           // a password with ':' and a space
    mp('-b', f, 'alice', 'second');        // update
    mp('-H', 'sha512', '-b', f, 'carol', 'c1');
    mp('-I', '1000', '-b', f, 'dave', 'd1');
    const file = loadPasswordFile(f);
    assert.deepEqual([...file.users.keys()].sort(), ['alice', 'bob', 'carol', 'dave']);
    const h = (u: string) => file.users.get(u)!.hash;
    assert.equal(h('alice').kind, 'pbkdf2-sha512');
    assert.equal(h('carol').kind, 'sha512');
    assert.equal((h('dave') as { iterations: number }).iterations, 1000);
    assert.equal(verifyPassword(h('alice'), 'second'), true);
    assert.equal(verifyPassword(h('alice'), 'first'), false, 'the old password no longer works');
    assert.equal(verifyPassword(h('bob'), 'b:o b'), true);
    assert.equal(verifyPassword(h('bob'), 'b:o'), false);
    assert.equal(verifyPassword(h('carol'), Buffer.from('c1')), true);
    assert.equal(verifyPassword(h('carol'), 'c2'), false);
    assert.equal(verifyPassword(h('dave'), 'd1'), true);
    assert.equal(verifySecret(file.users.get('alice')!.secret, 'second'), true);
    // byte for byte: Shoal's encoder with mosquitto_passwd's salt writes mosquitto_passwd's line
    for (const [u, pw] of [['alice', 'second'], ['carol', 'c1'], ['dave', 'd1']] as const) {
      const e = file.users.get(u)!;
      const salt = (e.hash as { salt: Buffer }).salt;
      const iterations = (e.hash as { iterations?: number }).iterations;
      const algorithm = e.hash.kind === 'sha512' ? 'sha512' : 'pbkdf2-sha512';
      assert.equal(encodeHash(hashPassword(pw, { salt, iterations, algorithm })), e.secret, u);
    }
  } finally { t.done(); }
});

test('new hashes use mosquitto_passwd defaults: $7$, 101 iterations, 12-byte salt, 64-byte PBKDF2-SHA512, standard base64', () => {
  const s = encodeHash(hashPassword('pw'));
  const m = /^\$7\$101\$([A-Za-z0-9+/]{16})\$([A-Za-z0-9+/]{86}==)$/.exec(s);
  assert.ok(m, s);
  assert.equal(Buffer.from(m[1]!, 'base64').length, 12);
  assert.equal(Buffer.from(m[2]!, 'base64').length, 64);
  assert.match(encodeHash(hashPassword('pw', { algorithm: 'sha512' })), /^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  assert.equal(verifySecret(DECOY_SECRET, 'anything'), false);
});

test('a plain-text password is refused at load with file and line (SHOAL_PASSWORD_PLAINTEXT), accepted with allowPlaintext', () => {
  const text = '# users\n\nalice:$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==\nbob:hunter2\n';
  assert.throws(() => parsePasswordFile(text, { source: '/etc/shoal/pw' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, ErrorCode.PASSWORD_PLAINTEXT);
    assert.match(e.message, /^\/etc\/shoal\/pw:4: user 'bob' has a plain-text password/);
    assert.equal(e.message.split('\n').length, 1);
    return true;
  });
  const file = parsePasswordFile(text, { allowPlaintext: true });
  assert.equal(file.users.get('bob')!.hash.kind, 'plain');
  assert.equal(verifyPassword(file.users.get('bob')!.hash, 'hunter2'), true);
  assert.equal(verifyPassword(file.users.get('bob')!.hash, 'hunter3'), false);
  assert.equal(verifySecret('hunter2', 'hunter2'), false, 'plain text is not accepted by default when verifying a secret either');
  assert.equal(verifySecret('hunter2', 'hunter2', true), true);
});

test('malformed lines and hashes are refused with the line number (SHOAL_PASSWORD_FILE_INVALID)', () => {
  const good = 'a:$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==\n';
  const cases: [string, RegExp][] = [
    ['no-colon-here\n', /:2: expected user:hash/],
    [':$7$1$x$y\n', /:2: expected user:hash/],
    ['b:\n', /:2: user 'b' has no password hash/],
    ['b:$7$0$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==\n', /:2: user 'b': malformed \$7\$/],
    ['b:$7$101$AAAA$' + 'A'.repeat(86) + '==\n', /malformed \$7\$/],            // 3-byte salt
    ['b:$7$101$AAAAAAAAAAAAAAAA$AAAA\n', /malformed \$7\$/],                     // short hash
    ['b:$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==$x\n', /malformed \$7\$/],
    ['b:$6$AAAAAAAAAAAAAAAA\n', /malformed \$6\$/],
    ['b:SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB\n', /malformed SCRAM-SHA-256/],
    ['b:$argon2id$v=19$m=47104,t=1,p=1$x$y\n', /argon2 hashes .* not supported/],
  ];
  for (const [line, re] of cases) {
    assert.throws(() => parsePasswordFile(good + line, { source: 'pw' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, ErrorCode.PASSWORD_FILE_INVALID, line);
      assert.match(e.message, re, line);
      return true;
    }, line);
  }
  assert.throws(() => loadPasswordFile('/nonexistent/shoal/pw'), (e: Error & { code?: string }) => e.code === ErrorCode.PASSWORD_FILE_INVALID && /\/nonexistent\/shoal\/pw/.test(e.message));
});

test('SCRAM-SHA-256 verifier lines (the --auth-users format) keep their fields and verify the password', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const v = scramVerifier('pencil', 4096, salt);
  const file = parsePasswordFile(`user:${v}\r\nother:${scramVerifier('x', 4096)}\n`);
  const e = file.users.get('user')!;
  assert.equal(e.secret, v, 'the raw verifier is kept for the SCRAM wiring');
  assert.equal(e.hash.kind, 'scram-sha-256');
  if (e.hash.kind !== 'scram-sha-256') return;
  assert.equal(e.hash.iterations, 4096);
  assert.deepEqual(e.hash.salt, salt);
  assert.equal(e.hash.storedKey.length, 32);
  assert.equal(encodeHash(e.hash), v);
  assert.equal(verifyPassword(e.hash, 'pencil'), true);
  assert.equal(verifyPassword(e.hash, 'pencil2'), false);
});

test('duplicate users: the first entry counts (as in Mosquitto) and a warning names the line; blanks and comments are skipped', () => {
  const a = encodeHash(hashPassword('one'));
  const b = encodeHash(hashPassword('two'));
  const file = parsePasswordFile(`# header\n\n  u : ${a}  \n#u:${b}\nu:${b}\n`, { source: 'pw' });
  assert.equal(file.users.size, 1);
  assert.equal(verifyPassword(file.users.get('u')!.hash, 'one'), true);
  assert.equal(file.users.get('u')!.line, 3);
  assert.deepEqual(file.warnings, ["pw:5: duplicate user 'u' ignored (the first entry counts, as in Mosquitto)"]);
  assert.equal(decodeSecret('plain'), null);
});

test('files Shoal writes with hashPassword are read back by mosquitto_passwd for an update', { skip }, () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    writeFileSync(f, `alice:${encodeHash(hashPassword('a'))}\nbob:${encodeHash(hashPassword('b', { algorithm: 'sha512' }))}\n`);
    mp('-b', f, 'carol', 'c');
    const file = parsePasswordFile(readFileSync(f, 'utf8'));
    assert.equal(verifyPassword(file.users.get('alice')!.hash, 'a'), true);
    assert.equal(verifyPassword(file.users.get('bob')!.hash, 'b'), true);
    assert.equal(verifyPassword(file.users.get('carol')!.hash, 'c'), true);
  } finally { t.done(); }
});


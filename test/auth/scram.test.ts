// The SCRAM-SHA-256 example hook against RFC 7677's worked example (section 3), and the users
// file parser. The broker-level exchange over AUTH packets is in test/broker/auth.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUsers, scramVerifier, UsersFileAuth } from '../../src/worker/auth/users.ts';
import { Reason } from '../../src/shared/protocol/reason-codes.ts';

const req = { clientId: 'c', username: undefined, password: undefined, remote: '127.0.0.1:1', version: 5 };

test('RFC 7677 example: server-first, proof check and server-final match byte for byte', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const hook = new UsersFileAuth(parseUsers(`user:${scramVerifier('pencil', 4096, salt)}\n`), false);
  hook.serverNonce = () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const ex = hook.begin('SCRAM-SHA-256', req, false);
  const first = ex.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.ok(!(first instanceof Promise));
  assert.equal(first.reason, Reason.CONTINUE_AUTHENTICATION);
  assert.equal(first.data!.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const fin = ex.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  assert.ok(!(fin instanceof Promise));
  assert.equal(fin.reason, Reason.SUCCESS);
  assert.equal(fin.data!.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

test('RFC 7677 example with a wrong proof, a changed nonce or a changed channel binding: 0x87', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const hook = new UsersFileAuth(parseUsers(`user:${scramVerifier('pencil', 4096, salt)}\n`), false);
  hook.serverNonce = () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const finals = [
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'garbage',
  ];
  for (const f of finals) {
    const ex = hook.begin('SCRAM-SHA-256', req, false);
    ex.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    const out = ex.step(Buffer.from(f));
    assert.ok(!(out instanceof Promise));
    assert.equal(out.reason, Reason.NOT_AUTHORIZED, f);
  }
});

test('an unknown user gets a server-first message like a known one (same salt each time), then 0x87', () => {
  const hook = new UsersFileAuth(parseUsers('alice:secret\n'), false);
  const salts = [0, 1].map(() => {
    const ex = hook.begin('SCRAM-SHA-256', req, false);
    const out = ex.step(Buffer.from('n,,n=mallory,r=abc'));
    assert.ok(!(out instanceof Promise));
    assert.equal(out.reason, Reason.CONTINUE_AUTHENTICATION);
    return /s=([^,]+)/.exec(out.data!.toString())![1];
  });
  assert.equal(salts[0], salts[1]);
});

test('malformed client-first messages (channel binding required, no nonce, bad saslname) are refused with 0x87', () => {
  const hook = new UsersFileAuth(parseUsers('alice:secret\n'), false);
  for (const m of ['p=tls-unique,,n=alice,r=abc', 'n,,n=alice', 'n,,n=al=ice,r=abc', '', 'n=alice,r=abc']) {
    const out = hook.begin('SCRAM-SHA-256', req, false).step(Buffer.from(m));
    assert.ok(!(out instanceof Promise));
    assert.equal(out.reason, Reason.NOT_AUTHORIZED, JSON.stringify(m));
  }
});

test('users file: comments, plain passwords, verifiers; a malformed line names its line number', () => {
  const users = parseUsers(`# comment\n\nalice:secret:with:colons\nbob:${scramVerifier('pw', 1000)}\n`);
  assert.deepEqual([...users.keys()], ['alice', 'bob']);
  assert.equal(users.get('alice')!.password!.toString(), 'secret:with:colons');
  assert.throws(() => parseUsers('alice:x\nnocolon\n', 'f'), /f:2:/);
  assert.throws(() => parseUsers('bob:SCRAM-SHA-256$x\n', 'f'), /f:1: malformed/);
});

test('user name / password check: plain and verifier entries, anonymous only when allowed', async () => {
  const text = `alice:secret\nbob:${scramVerifier('hunter2', 1000)}\n`;
  const strict = new UsersFileAuth(parseUsers(text), false);
  const check = async (h: UsersFileAuth, username?: string, password?: string): Promise<number> =>
    (await h.check({ ...req, username, password: password === undefined ? undefined : Buffer.from(password) })).reason;
  assert.equal(await check(strict, 'alice', 'secret'), Reason.SUCCESS);
  assert.equal(await check(strict, 'alice', 'Secret'), Reason.BAD_USER_NAME_OR_PASSWORD);
  assert.equal(await check(strict, 'bob', 'hunter2'), Reason.SUCCESS);
  assert.equal(await check(strict, 'bob', 'hunter3'), Reason.BAD_USER_NAME_OR_PASSWORD);
  assert.equal(await check(strict, 'carol', 'x'), Reason.BAD_USER_NAME_OR_PASSWORD);
  assert.equal(await check(strict, 'alice'), Reason.BAD_USER_NAME_OR_PASSWORD);
  assert.equal(await check(strict), Reason.NOT_AUTHORIZED);
  assert.equal(await check(new UsersFileAuth(parseUsers(text), true)), Reason.SUCCESS);
});

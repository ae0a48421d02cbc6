// `shoal passwd` against the real `mosquitto_passwd` and `mosquitto`: same exit codes and
// messages for the same invocations, files it writes accepted by Debian's broker (right password
// connects, wrong one refused), files mosquitto_passwd writes updated by it and the other way
// round, the password prompt without echo on a pseudo-terminal, and atomic replacement that
// keeps the file's mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrokerOf, MOSQUITTO_BIN } from '../helpers/broker.ts';
import { run } from '../helpers/mosquitto-cli.ts';
import { loadPasswordFile, verifyPassword } from '../../src/shared/auth/password-file.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOAL = join(ROOT, 'bin', 'shoal.js');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const noTools = !has('mosquitto_passwd') || !has('mosquitto_pub') || !existsSync(MOSQUITTO_BIN) ? 'Debian mosquitto / mosquitto-clients are not installed' : false;

interface Out { code: number | null; stdout: string; stderr: string }
function shoal(args: string[], input?: string): Out {
  const r = spawnSync(process.execPath, [SHOAL, 'passwd', ...args], { encoding: 'utf8', input, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function mosq(args: string[], input?: string): Out {
  const r = spawnSync('mosquitto_passwd', args, { encoding: 'utf8', input, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-passwd-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('shoal passwd gives mosquitto_passwd\'s exit codes and error lines for the same invocations', { skip: noTools }, () => {
  const t = tmp();
  try {
    const f = (n: string) => join(t.dir, n);
    writeFileSync(f('corrupt'), 'u1:$7$101$xx\nbroken-line\n');
    const cases: { args: string[]; input?: string }[] = [
      { args: [] },
      { args: ['-c', '-D', f('a'), 'u'] },
      { args: ['-c', '-U', f('a')] },
      { args: ['-D', '-U', f('a')] },
      { args: ['-b', '-D', f('a'), 'u'] },
      { args: ['-c', f('a')] },
      { args: ['-c', '-b', f('a'), 'u'] },
      { args: ['-D', f('a')] },
      { args: ['-U'] },
      { args: ['-H'] },
      { args: ['-H', 'md5', '-b', f('a'), 'u', 'p'] },
      { args: ['-I', '0', '-b', f('a'), 'u', 'p'] },
      { args: ['-b', f('a'), 'u'] },
      { args: ['-b', f('missing'), 'u', 'p'] },
      { args: ['-D', f('missing'), 'u'] },
      { args: ['-b', f('a'), 'a:b', 'p'] },
      { args: ['-b', f('a'), 'a\tb', 'p'] },
      { args: ['-c', '-b', join(t.dir, 'no', 'such', 'dir'), 'u', 'p'] },
      { args: [f('missing'), 'u'] },
      { args: ['-c', f('p1'), 'u'], input: '' },
      { args: ['-c', f('p2'), 'u'], input: 'x\ny\n' },
      { args: ['-c', f('p3'), 'u'], input: 'x\n\n' },
      { args: ['-c', f('p4'), 'u'], input: 'same\nsame\n' },
      { args: ['-c', '-b', t.dir, 'u', 'p'] },
    ];
    for (const c of cases) {
      const a = shoal(c.args, c.input ?? '');
      const b = mosq(c.args, c.input ?? '');
      const what = `args ${JSON.stringify(c.args)}`;
      assert.equal(a.code, b.code, `${what}: exit code\nshoal: ${a.stderr}\nmosquitto_passwd: ${b.stderr}`);
      assert.equal(a.stderr, b.stderr, `${what}: stderr`);
      if (b.stdout.startsWith('mosquitto_passwd is a tool')) assert.match(a.stdout, /^shoal passwd \(mosquitto_passwd compatible\)[\s\S]*Usage: shoal passwd/, what);
      else assert.equal(a.stdout, b.stdout, `${what}: stdout (prompts)`);
    }
    // A corrupt line: the same message, but mosquitto_passwd then exits 0 having cut the file
    // at that line (its update callback ignores the error); shoal passwd exits 1, file untouched.
    const before = readFileSync(f('corrupt'), 'utf8');
    const c = shoal(['-b', f('corrupt'), 'u2', 'p']);
    assert.deepEqual([c.code, c.stderr], [1, 'Error: Corrupt password file at line 2.\n']);
    assert.equal(readFileSync(f('corrupt'), 'utf8'), before);
    const d = (n: string) => { const r = shoal(['-c', '-b', f(n), 'u', 'p']); assert.equal(r.code, 0); };
    d('del');
    assert.deepEqual([shoal(['-D', f('del'), 'nobody']).code, shoal(['-D', f('del'), 'nobody']).stderr], [1, 'Warning: User nobody not found in password file.\n']);
  } finally { t.done(); }
});

async function withMosquitto(pwFile: string, fn: (port: number) => Promise<void>): Promise<void> {
  const extra = ['allow_anonymous false', `password_file ${pwFile}`];
  // run as root, mosquitto drops to the `mosquitto` user, which cannot read a 0600 file of root's
  if (process.getuid?.() === 0) extra.unshift('user root');
  const b = await startBrokerOf('mosquitto', { extraArgs: extra });
  try { await fn(b.port); } finally { await b.stop(); }
}

const pub = (port: number, user: string, pw: string, v = '311') =>
  run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', v, '-u', user, '-P', pw, '-t', 't', '-m', 'm', '-i', `pub-${user}`]);

test('a file shoal passwd writes (-c -b, -b add, -b update, -H sha512) is accepted by Debian\'s mosquitto: right password connects, wrong one is refused', { skip: noTools }, async () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    assert.equal(shoal(['-c', '-b', f, 'alice', 'a-pass']).code, 0);
    assert.equal(shoal(['-b', f, 'bob', 'b pass:with colon']).code, 0);
    assert.equal(shoal(['-b', f, 'alice', 'a-new']).code, 0);
    assert.equal(shoal(['-H', 'sha512', '-b', f, 'carol', 'c-pass']).code, 0);
    await withMosquitto(f, async (port) => {
      assert.equal((await pub(port, 'alice', 'a-new')).code, 0);
      assert.equal((await pub(port, 'alice', 'a-pass')).code, 5, 'old password: 3.1.1 refuses with 5');
      assert.equal((await pub(port, 'alice', 'wrong', '5')).code, 135, 'v5: 0x87 Not authorized');
      assert.equal((await pub(port, 'bob', 'b pass:with colon')).code, 0);
      assert.equal((await pub(port, 'carol', 'c-pass')).code, 0);
      assert.equal((await pub(port, 'carol', 'c-pas')).code, 5);
      assert.equal((await pub(port, 'nobody', 'x')).code, 5);
    });
  } finally { t.done(); }
});

test('files written by mosquitto_passwd are updated by shoal passwd and the other way round, and both tools\' entries verify in Shoal', { skip: noTools }, () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    assert.equal(mosq(['-c', '-b', f, 'm1', 'p1']).code, 0);
    assert.equal(shoal(['-b', f, 's1', 'q1']).code, 0);
    assert.equal(mosq(['-b', f, 'm2', 'p2']).code, 0);
    assert.equal(shoal(['-b', f, 'm1', 'p1-new']).code, 0);
    assert.equal(mosq(['-b', f, 's1', 'q1-new']).code, 0);
    assert.equal(shoal(['-D', f, 'm2']).code, 0);
    const lines = readFileSync(f, 'utf8').split('\n');
    assert.deepEqual(lines.map((l) => l.split(':')[0]), ['m1', 's1', '']);
    const file = loadPasswordFile(f);
    assert.equal(verifyPassword(file.users.get('m1')!.hash, 'p1-new'), true);
    assert.equal(verifyPassword(file.users.get('s1')!.hash, 'q1-new'), true);
    assert.equal(file.users.has('m2'), false);
  } finally { t.done(); }
});

test('shoal passwd -U hashes plain-text lines, keeps hashed ones, blank lines and comments', { skip: noTools }, async () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    assert.equal(mosq(['-c', '-b', f, 'hashed', 'h1']).code, 0);
    const hashedLine = readFileSync(f, 'utf8');
    writeFileSync(f, `# operators\n${hashedLine}\nplain:pl1\n`);
    assert.equal(shoal(['-U', f]).code, 0);
    const text = readFileSync(f, 'utf8');
    assert.ok(text.startsWith(`# operators\n${hashedLine}\n`), text);
    const file = loadPasswordFile(f);
    assert.equal(verifyPassword(file.users.get('plain')!.hash, 'pl1'), true);
    assert.equal(verifyPassword(file.users.get('hashed')!.hash, 'h1'), true);
    await withMosquitto(f, async (port) => {
      assert.equal((await pub(port, 'plain', 'pl1')).code, 0);
    });
  } finally { t.done(); }
});

test('updates replace the file atomically (new inode, no temporary left) and keep its mode; a new file is 0600', () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    assert.equal(shoal(['-c', '-b', f, 'u', 'p']).code, 0);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    chmodSync(f, 0o640);
    const before = statSync(f).ino;
    assert.equal(shoal(['-b', f, 'v', 'q']).code, 0);
    assert.equal(statSync(f).mode & 0o777, 0o640);
    assert.notEqual(statSync(f).ino, before, 'renamed over, not rewritten in place');
    assert.deepEqual(readdirSync(t.dir), ['pw']);
    assert.equal(shoal(['-D', f, 'u']).code, 0);
    assert.equal(statSync(f).mode & 0o777, 0o640);
    assert.deepEqual([...loadPasswordFile(f).users.keys()], ['v']);
  } finally { t.done(); }
});

/** Runs `shoal passwd` on a pseudo-terminal (util-linux script), typing `answers` one after another. */
function onPty(args: string[], answers: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const cmd = [process.execPath, SHOAL, 'passwd', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = 0;
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`pty run timed out: ${JSON.stringify(out)}`)); }, 20_000);
    p.stdout.on('data', (d) => {
      out += d;
      // answer each prompt once it is shown (typing earlier would race the switch to raw mode)
      const prompts = (out.match(/password: /gi) ?? []).length;
      while (sent < prompts && sent < answers.length) p.stdin.write(answers[sent++] + '\r');
    });
    p.on('close', (code) => { clearTimeout(timer); res({ code, out }); });
  });
}

test('without a password argument shoal passwd prompts twice on the terminal without echo; a mismatch exits 2, an empty one 1', { skip: has('script') ? false : 'script (util-linux) is not installed' }, async () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    const ok = await onPty(['-c', f, 'alice'], ['s3cret-typed', 's3cret-typed']);
    assert.equal(ok.code, 0, ok.out);
    assert.equal(ok.out, 'Password: \r\nReenter password: \r\n', 'prompts only: the typed password is not echoed');
    assert.equal(verifyPassword(loadPasswordFile(f).users.get('alice')!.hash, 's3cret-typed'), true);
    const bad = await onPty([f, 'alice'], ['one', 'two']);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /Error: Passwords do not match\./);
    assert.doesNotMatch(bad.out, /one|two/);
    const empty = await onPty([f, 'alice'], ['']);
    assert.equal(empty.code, 1);
    assert.match(empty.out, /Error: Empty password\./);
    assert.equal(verifyPassword(loadPasswordFile(f).users.get('alice')!.hash, 's3cret-typed'), true, 'failed prompts leave the file alone');
  } finally { t.done(); }
});

test('npm run passwd -- … reaches the same tool', { skip: has('npm') ? false : 'npm is not on PATH' }, () => {
  const t = tmp();
  try {
    const f = join(t.dir, 'pw');
    const r = spawnSync('npm', ['run', '-s', 'passwd', '--', '-c', '-b', f, 'n', 'np'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(verifyPassword(loadPasswordFile(f).users.get('n')!.hash, 'np'), true);
  } finally { t.done(); }
});

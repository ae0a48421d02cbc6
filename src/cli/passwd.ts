// `shoal passwd`: manage a password file the way Mosquitto 2.0's `mosquitto_passwd` does, with
// its options, messages and exit codes, so scripts written for one work with the other:
//
//   shoal passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
//   shoal passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
//   shoal passwd -U passwordfile
//   (-I iterations, as mosquitto_passwd accepts but does not list)
//
// Where it differs, on purpose: the file is replaced atomically (temporary file in the same
// directory, fsync, rename; the mode is kept, a new file is 0600) instead of being rewritten in
// place behind a backup copy; blank and '#' comment lines are kept instead of being reported as a
// corrupt file; -U leaves lines that already hold a hash alone instead of hashing the hash.
import { readFileSync, realpathSync } from 'node:fs';
import { getSystemErrorMessage } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { decodeSecret, encodeHash, hashPassword, MOSQUITTO_DEFAULT_ITERATIONS, type HashOptions } from '../shared/auth/password-file.ts';
import { askPassword } from './prompt.ts';
import { writeFileAtomic } from './atomic-write.ts';

export interface CliIo { stdin: Readable; stdout: Writable; stderr: Writable }

const USAGE = `shoal passwd (mosquitto_passwd compatible) is a tool for managing password files for mosquitto and shoal.

Usage: shoal passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
       shoal passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
       shoal passwd -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
 -U : update a plain text password file to use hashed passwords.

See docs/security.md for more information.

`;

type Mode = 'update' | 'create' | 'delete' | 'upgrade';
interface Args { mode: Mode; batch: boolean; file: string; user?: string; password?: string; hash: HashOptions }

// libuv's texts are glibc's strerror(3) in lower case, but for these
const STRERROR: Record<string, string> = { EISDIR: 'Is a directory' };

/** strerror(3)-style text for a Node file-system error (what mosquitto_passwd prints). */
function strerror(err: unknown): string {
  const known = STRERROR[(err as NodeJS.ErrnoException).code ?? ''];
  if (known !== undefined) return known;
  const errno = (err as NodeJS.ErrnoException).errno;
  const msg = typeof errno === 'number' ? getSystemErrorMessage(errno) : (err as Error).message;
  return msg.charAt(0).toUpperCase() + msg.slice(1);
}

/** mosquitto_passwd's argument rules, message for message; a number is the exit code after printing. */
function parseArgs(argv: string[], io: CliIo): Args | number {
  const err = (m: string) => { io.stderr.write(m + '\n'); return 1; };
  if (argv.length === 0) { io.stdout.write(USAGE); return 1; }
  let batch = false, create = false, del = false, upgrade = false;
  const hash: HashOptions = { algorithm: 'pbkdf2-sha512', iterations: MOSQUITTO_DEFAULT_ITERATIONS };
  let idx = 0;
  for (; idx < argv.length; idx++) {
    const a = argv[idx];
    if (a === '-H') {
      if (idx + 1 === argv.length) return err('Error: -H argument given but not enough other arguments.');
      const h = argv[++idx];
      if (h === 'sha512') hash.algorithm = 'sha512';
      else if (h === 'sha512-pbkdf2') hash.algorithm = 'pbkdf2-sha512';
      else return err(`Error: Unknown hash type '${h}'`);
    } else if (a === '-b') batch = true;
    else if (a === '-c') create = true;
    else if (a === '-D') del = true;
    else if (a === '-I') {
      if (idx + 1 === argv.length) return err('Error: -I argument given but not enough other arguments.');
      const n = Number.parseInt(argv[++idx]!, 10);
      if (!(n >= 1)) return err('Error: Number of iterations must be > 0.');
      hash.iterations = n;
    } else if (a === '-U') upgrade = true;
    else break;
  }
  if (create && del) return err('Error: -c and -D cannot be used together.');
  if (create && upgrade) return err('Error: -c and -U cannot be used together.');
  if (del && upgrade) return err('Error: -D and -U cannot be used together.');
  if (del && batch) return err('Error: -b and -D cannot be used together.');
  const rest = argv.slice(idx);
  let args: Args;
  if (create) {
    if (batch && rest.length < 3) return err('Error: -c argument given but password file, username, or password missing.');
    if (!batch && rest.length < 2) return err('Error: -c argument given but password file or username missing.');
    args = { mode: 'create', batch, file: rest[0]!, user: rest[1]!, password: batch ? rest[2] : undefined, hash };
  } else if (del) {
    if (rest.length < 2) return err('Error: -D argument given but password file or username missing.');
    args = { mode: 'delete', batch, file: rest[0]!, user: rest[1]!, hash };
  } else if (upgrade) {
    if (rest.length !== 1) return err('Error: -U argument given but password file missing.');
    args = { mode: 'upgrade', batch, file: rest[0]!, hash };
  } else if (batch && rest.length === 3) {
    args = { mode: 'update', batch, file: rest[0]!, user: rest[1]!, password: rest[2]!, hash };
  } else if (!batch && rest.length === 2) {
    args = { mode: 'update', batch, file: rest[0]!, user: rest[1]!, hash };
  } else {
    io.stdout.write(USAGE);
    return 1;
  }
  if (args.user !== undefined) {
    if (args.user.length > 65535) return err('Error: Username must be less than 65536 characters long.');
    if (/[\x00-\x1f\x7f]/.test(args.user)) return err('Error: Username must not contain control characters.');
    if (args.user.includes(':')) return err("Error: Username must not contain the ':' character.");
  }
  if (args.password !== undefined && args.password.length > 65535) return err('Error: Password must be less than 65536 characters long.');
  return args;
}

const entryLine = (user: string, password: string, hash: HashOptions): string => `${user}:${encodeHash(hashPassword(password, hash))}\n`;

/**
 * The file's new text after the change, or the exit code after printing why not. Lines are
 * mosquitto_passwd's `user:password` (both trimmed, the password up to the next ':'); others
 * than the user's are kept byte for byte.
 */
function edit(text: string, args: Args, password: string | undefined, io: CliIo): string | number {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let out = '';
  let found = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) { out += line + '\n'; continue; }
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon).trim();
    const secret = colon < 0 ? '' : line.slice(colon + 1).trim();
    if (user === '' || secret === '') {
      io.stderr.write(`Error: Corrupt password file at line ${i + 1}.\n`);
      return 1;
    }
    if (args.mode === 'upgrade') {
      // A line already hashed stays as it is (mosquitto_passwd would hash the hash).
      out += decodeSecret(secret) === null ? entryLine(user, secret.split(':')[0]!.trim(), args.hash) : line + '\n';
    } else if (user !== args.user) {
      out += line + '\n';
    } else {
      found = true;
      if (args.mode === 'update') out += entryLine(user, password!, args.hash);
    }
  }
  if (args.mode === 'delete' && !found) {
    io.stderr.write(`Warning: User ${args.user} not found in password file.\n`);
    return 1;
  }
  if (args.mode === 'update' && !found) out += entryLine(args.user!, password!, args.hash);
  return out;
}

export async function passwd(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, io);
  if (typeof args === 'number') return args;
  let file = args.file;
  try { file = realpathSync(args.file); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      io.stderr.write(`Error reading password file: ${strerror(err)}\n`);
      return 1;
    }
  }
  let password = args.password;
  if (args.mode === 'create') {
    if (password === undefined) {
      const asked = await askPassword(io);
      if (typeof asked !== 'string') { io.stderr.write(asked.message + '\n'); return asked.code; }
      password = asked;
    }
    try { writeFileAtomic(file, entryLine(args.user!, password, args.hash)); } catch (err) {
      io.stderr.write(`Error: Unable to open file ${file} for writing. ${strerror(err)}.\n`);
      return 1;
    }
    return 0;
  }
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    io.stderr.write(`Error: Unable to open password file ${file}. ${strerror(err)}.\n`);
    return 1;
  }
  if (args.mode === 'update' && password === undefined) {
    const asked = await askPassword(io);
    if (typeof asked !== 'string') { io.stderr.write(asked.message + '\n'); return asked.code; }
    password = asked;
  }
  const next = edit(text, args, password, io);
  if (typeof next === 'number') return next;
  try { writeFileAtomic(file, next); } catch (err) {
    io.stderr.write(`Error occurred updating password file. ${strerror(err)}.\n`);
    return 1;
  }
  return 0;
}

/** Entry from bin/shoal.js (`shoal passwd ...`) and `npm run passwd -- ...`. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<never> {
  const code = await passwd(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  process.exit(code);
}

if (import.meta.main) await main();

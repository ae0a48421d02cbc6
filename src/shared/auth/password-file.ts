// Mosquitto's password file, as `mosquitto_passwd` writes it, plus Shoal's SCRAM verifier lines.
//
//   user:$7$<iterations>$<salt b64>$<hash b64>   PBKDF2-HMAC-SHA512, 64-byte hash (Mosquitto >= 2.0)
//   user:$6$<salt b64>$<hash b64>                SHA-512(password || salt)       (Mosquitto <= 1.6)
//   user:SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>   (what --auth-users reads today)
//   user:$2b$<cost>$<salt and hash, bcrypt base64>   bcrypt ($2a$ / $2y$ too), as comqtt's
//                                                     database backends and htpasswd -B store it
//
// Mosquitto's own choices (common/password_mosq.c, apps/mosquitto_passwd): a new salt is 12 random
// bytes, PBKDF2 runs 101 iterations by default, base64 is the standard alphabet with padding,
// and on reading a salt may be 12 or 64 bytes long (2.1 writes 64) while the hash is always 64.
// A password in plain text is refused when the file loads, naming the line, unless the caller
// allows it: a file that lets anyone who reads it log in should not pass unnoticed.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { ErrorCode, ShoalError } from '../errors.ts';
import { readSecurityFile } from './files.ts';

/** Mosquitto's PW_DEFAULT_ITERATIONS. */
export const MOSQUITTO_DEFAULT_ITERATIONS = 101;
/** Mosquitto's SALT_LEN for new hashes. */
export const MOSQUITTO_SALT_BYTES = 12;
const HASH_BYTES = 64; // SHA-512 output, the only length Mosquitto accepts
const SCRAM_PREFIX = 'SCRAM-SHA-256$';

export type PasswordHash =
  | { kind: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'sha512'; salt: Buffer; hash: Buffer }
  /** Kept as parsed fields for the SCRAM wiring (the AUTH exchange needs salt, StoredKey, ServerKey). */
  | { kind: 'scram-sha-256'; iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer }
  /** bcrypt keeps its own encoding: the whole modular-crypt string is what the library compares against. */
  | { kind: 'bcrypt'; cost: number; secret: string }
  | { kind: 'plain'; password: Buffer };

export interface PasswordEntry {
  user: string;
  /** the text after the first ':' exactly as in the file (what a hashing worker is given) */
  secret: string;
  hash: PasswordHash;
  /** 1-based line number in the file */
  line: number;
}

export interface PasswordFile {
  users: Map<string, PasswordEntry>;
  /** lines that were accepted with a caveat (a duplicate user: the first entry counts, as in Mosquitto) */
  warnings: string[];
}

export interface PasswordFileOptions {
  /** accept `user:password` lines in plain text (Shoal flag --allow-plaintext-passwords) */
  allowPlaintext?: boolean;
  /** name used in error lines (the path) */
  source?: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function b64(s: string | undefined, lengths: readonly number[]): Buffer | null {
  if (s === undefined || !BASE64.test(s) || s.length % 4 !== 0) return null;
  const buf = Buffer.from(s, 'base64');
  return lengths.includes(buf.length) ? buf : null;
}

function positiveInt(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 0x7fffffff ? n : null;
}

const SALT_LENGTHS = [MOSQUITTO_SALT_BYTES, HASH_BYTES] as const;
// $2a$ / $2b$ / $2y$, a two-digit cost 04-31, then 22 characters of salt and 31 of hash.
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * A stored secret decoded: a hash, `null` when it is not in any hash format (plain text), or a
 * string saying why a secret that claims a hash format is malformed.
 */
export function decodeSecret(secret: string): PasswordHash | null | string {
  if (secret.startsWith('$7$')) {
    const f = secret.slice(3).split('$');
    const iterations = positiveInt(f[0]);
    const salt = b64(f[1], SALT_LENGTHS);
    const hash = b64(f[2], [HASH_BYTES]);
    if (f.length !== 3 || iterations === null || salt === null || hash === null) return 'malformed $7$ (PBKDF2-SHA512) hash';
    return { kind: 'pbkdf2-sha512', iterations, salt, hash };
  }
  if (secret.startsWith('$6$')) {
    const f = secret.slice(3).split('$');
    const salt = b64(f[0], SALT_LENGTHS);
    const hash = b64(f[1], [HASH_BYTES]);
    if (f.length !== 2 || salt === null || hash === null) return 'malformed $6$ (salted SHA-512) hash';
    return { kind: 'sha512', salt, hash };
  }
  if (secret.startsWith(SCRAM_PREFIX)) {
    // <iterations>:<salt>$<StoredKey>:<ServerKey>
    const [params, keys, extra] = secret.slice(SCRAM_PREFIX.length).split('$');
    const [iter, saltS] = (params ?? '').split(':');
    const [stored, server] = (keys ?? '').split(':');
    const iterations = positiveInt(iter);
    const salt = saltS !== undefined && BASE64.test(saltS) ? Buffer.from(saltS, 'base64') : null;
    const storedKey = b64(stored, [32]);
    const serverKey = b64(server, [32]);
    if (extra !== undefined || iterations === null || salt === null || storedKey === null || serverKey === null) return 'malformed SCRAM-SHA-256 verifier';
    return { kind: 'scram-sha-256', iterations, salt, storedKey, serverKey };
  }
  if (secret.startsWith('$2')) {
    const m = BCRYPT.exec(secret);
    return m === null ? 'malformed bcrypt hash' : { kind: 'bcrypt', cost: Number(m[1]), secret };
  }
  if (secret.startsWith('$argon2')) return 'argon2 hashes (Mosquitto 2.1) are not supported; rehash with `shoal passwd`';
  return null;
}

/** Parses a password file's text; throws SHOAL_PASSWORD_FILE_INVALID / SHOAL_PASSWORD_PLAINTEXT naming the line. */
export function parsePasswordFile(text: string, opts: PasswordFileOptions = {}): PasswordFile {
  const source = opts.source ?? 'password file';
  const users = new Map<string, PasswordEntry>();
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = `${source}:${i + 1}`;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon).trim();
    const secret = colon < 0 ? '' : line.slice(colon + 1).trim();
    if (user === '') throw new ShoalError(ErrorCode.PASSWORD_FILE_INVALID, `${at}: expected user:hash`);
    if (secret === '') throw new ShoalError(ErrorCode.PASSWORD_FILE_INVALID, `${at}: user '${user}' has no password hash`);
    let hash = decodeSecret(secret);
    if (typeof hash === 'string') throw new ShoalError(ErrorCode.PASSWORD_FILE_INVALID, `${at}: user '${user}': ${hash}`);
    if (hash === null) {
      if (opts.allowPlaintext !== true) {
        throw new ShoalError(ErrorCode.PASSWORD_PLAINTEXT, `${at}: user '${user}' has a plain-text password; hash the file with \`shoal passwd -U ${source}\` or allow it with --allow-plaintext-passwords`);
      }
      hash = { kind: 'plain', password: Buffer.from(secret, 'utf8') };
    }
    if (users.has(user)) {
      warnings.push(`${at}: duplicate user '${user}' ignored (the first entry counts, as in Mosquitto)`);
      continue;
    }
    users.set(user, { user, secret, hash, line: i + 1 });
  }
  return { users, warnings };
}

/** Reads and parses a password file; an unreadable file is SHOAL_PASSWORD_FILE_INVALID too. */
export function loadPasswordFile(path: string, opts: Omit<PasswordFileOptions, 'source'> = {}): PasswordFile {
  return parsePasswordFile(readSecurityFile(path, ErrorCode.PASSWORD_FILE_INVALID), { ...opts, source: path });
}

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** Whether `password` matches `hash`. Constant-time in the compared bytes; synchronous (run it off the event loop: hash-pool.ts). */
export function verifyPassword(hash: PasswordHash, password: Buffer | string): boolean {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  switch (hash.kind) {
    case 'pbkdf2-sha512':
      return timingSafeEqual(pbkdf2Sync(pw, hash.salt, hash.iterations, HASH_BYTES, 'sha512'), hash.hash);
    case 'sha512':
      return timingSafeEqual(createHash('sha512').update(pw).update(hash.salt).digest(), hash.hash);
    case 'scram-sha-256': {
      // RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")); SASLprep approximated by NFKC, as auth-users.ts does
      const salted = pbkdf2Sync(Buffer.from(pw.toString('utf8').normalize('NFKC')), hash.salt, hash.iterations, 32, 'sha256');
      return timingSafeEqual(sha256(createHmac('sha256', salted).update('Client Key').digest()), hash.storedKey);
    }
    case 'bcrypt':
      // bcryptjs compares in constant time; it reads the password as UTF-8 (and, as every
      // bcrypt, only its first 72 bytes)
      return bcrypt.compareSync(pw.toString('utf8'), hash.secret);
    case 'plain':
      // digests have equal lengths, so the comparison does not leak the stored length
      return timingSafeEqual(sha256(hash.password), sha256(pw));
  }
}

/** Verifies against a stored secret string (what a hashing worker receives); malformed → false. */
export function verifySecret(secret: string, password: Buffer | string, allowPlaintext = false): boolean {
  const hash = decodeSecret(secret);
  if (typeof hash === 'string') return false;
  if (hash === null) return allowPlaintext && verifyPassword({ kind: 'plain', password: Buffer.from(secret, 'utf8') }, password);
  return verifyPassword(hash, password);
}

/**
 * A `$7$` hash with Mosquitto's defaults, for a user that does not exist: verifying against it
 * costs what a real check costs, so response time does not tell which user names exist.
 */
export const DECOY_SECRET = encodeHash(hashPassword('decoy', { salt: Buffer.alloc(MOSQUITTO_SALT_BYTES) }));

export interface HashOptions {
  /** `pbkdf2-sha512` ($7$, Mosquitto 2.0's default) or `sha512` ($6$, for Mosquitto 1.6) */
  algorithm?: 'pbkdf2-sha512' | 'sha512';
  iterations?: number;
  salt?: Buffer;
}

/** Hashes a new password the way `mosquitto_passwd` does (12-byte random salt, 101 iterations). */
export function hashPassword(password: string | Buffer, opts: HashOptions = {}): PasswordHash {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const salt = opts.salt ?? randomBytes(MOSQUITTO_SALT_BYTES);
  if (opts.algorithm === 'sha512') {
    return { kind: 'sha512', salt, hash: createHash('sha512').update(pw).update(salt).digest() };
  }
  const iterations = opts.iterations ?? MOSQUITTO_DEFAULT_ITERATIONS;
  return { kind: 'pbkdf2-sha512', iterations, salt, hash: pbkdf2Sync(pw, salt, iterations, HASH_BYTES, 'sha512') };
}

/** The secret as it is written after `user:` (Mosquitto's `$%d$%d$%s$%s` / `$%d$%s$%s`). */
export function encodeHash(hash: PasswordHash): string {
  switch (hash.kind) {
    case 'pbkdf2-sha512': return `$7$${hash.iterations}$${hash.salt.toString('base64')}$${hash.hash.toString('base64')}`;
    case 'sha512': return `$6$${hash.salt.toString('base64')}$${hash.hash.toString('base64')}`;
    case 'scram-sha-256': return `${SCRAM_PREFIX}${hash.iterations}:${hash.salt.toString('base64')}$${hash.storedKey.toString('base64')}:${hash.serverKey.toString('base64')}`;
    case 'bcrypt': return hash.secret;
    case 'plain': return hash.password.toString('utf8');
  }
}

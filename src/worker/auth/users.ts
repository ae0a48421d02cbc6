// The example hook behind `--auth-users FILE`: user name / password in CONNECT (every version)
// and the MQTT 5 Authentication Method SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), where
// the password never crosses the wire.
//
// The file has one user per line, `name:secret`, `#` starts a comment. The secret is either
// the password itself, or (better: the file then holds nothing a client could log in with) a
// SCRAM verifier in PostgreSQL's format, as `scramVerifier()` writes it:
//   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
//
// SCRAM in MQTT: CONNECT carries Authentication Method "SCRAM-SHA-256" and the client-first
// message as Authentication Data; the broker answers AUTH 0x18 with the server-first message;
// the client sends AUTH 0x18 with the client-final message; the broker answers CONNACK 0x00
// (or AUTH 0x00 when re-authenticating) with the server-final message `v=...`, or refuses
// with 0x87. An unknown user name gets a made-up salt and fails at the end like a wrong
// password, so the exchange does not reveal which names exist.
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from './hook.ts';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
const DEFAULT_ITERATIONS = 4096; // RFC 7677's minimum

interface Verifier { iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer }
interface User { name: string; password: Buffer | null; verifier: Verifier | null }

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function verifierFromSalted(salted: Buffer, salt: Buffer, iterations: number): Verifier {
  return { iterations, salt, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

/** A SCRAM-SHA-256 verifier line for a password (for the users file). */
export function scramVerifier(password: string, iterations = DEFAULT_ITERATIONS, salt: Buffer = randomBytes(16)): string {
  const v = verifierFromSalted(pbkdf2Sync(Buffer.from(password.normalize('NFKC')), salt, iterations, 32, 'sha256'), salt, iterations);
  return `${SCRAM_SHA_256}$${iterations}:${salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`;
}

function parseVerifier(s: string): Verifier | null {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(s);
  if (m === null) return null;
  const v = { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
  return v.iterations >= 1 && v.storedKey.length === 32 && v.serverKey.length === 32 ? v : null;
}

/** Parses a users file's text; throws SHOAL_CONFIG_INVALID naming the line. */
export function parseUsers(text: string, source = 'users file'): Map<string, User> {
  const users = new Map<string, User>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ShoalError(ErrorCode.CONFIG_INVALID, `${source}:${i + 1}: expected name:password or name:SCRAM-SHA-256$...`);
    const name = line.slice(0, colon);
    const secret = line.slice(colon + 1);
    if (secret.startsWith(SCRAM_SHA_256 + '$')) {
      const verifier = parseVerifier(secret);
      if (verifier === null) throw new ShoalError(ErrorCode.CONFIG_INVALID, `${source}:${i + 1}: malformed SCRAM-SHA-256 verifier`);
      users.set(name, { name, password: null, verifier });
    } else {
      users.set(name, { name, password: Buffer.from(secret, 'utf8'), verifier: null });
    }
  }
  return users;
}

const OK: AuthOutcome = { reason: Reason.SUCCESS };
const BAD_CREDENTIALS: AuthOutcome = { reason: Reason.BAD_USER_NAME_OR_PASSWORD };
const NOT_AUTHORIZED: AuthOutcome = { reason: Reason.NOT_AUTHORIZED };

export class UsersFileAuth implements AuthHook {
  private readonly users: Map<string, User>;
  private readonly allowAnonymous: boolean;
  private readonly fakeSaltKey = randomBytes(32);
  /** The server's part of the SCRAM nonce (replaceable to check against RFC 7677's example). */
  serverNonce: () => string = () => randomBytes(18).toString('base64');

  constructor(users: Map<string, User>, allowAnonymous: boolean) {
    this.users = users;
    this.allowAnonymous = allowAnonymous;
  }

  static fromFile(path: string, allowAnonymous: boolean): UsersFileAuth {
    let text: string;
    try { text = readFileSync(path, 'utf8'); } catch (err) {
      throw new ShoalError(ErrorCode.CONFIG_INVALID, `--auth-users ${path}: ${(err as Error).message}`, { cause: err });
    }
    return new UsersFileAuth(parseUsers(text, path), allowAnonymous);
  }

  check(req: AuthRequest): Maybe<AuthOutcome> {
    if (req.username === undefined) return this.allowAnonymous && req.password === undefined ? OK : NOT_AUTHORIZED;
    const u = this.users.get(req.username);
    if (u === undefined || req.password === undefined) return BAD_CREDENTIALS;
    if (u.password !== null) {
      // Compare digests: equal lengths for timingSafeEqual, no early exit on the first byte.
      return timingSafeEqual(sha256(u.password), sha256(req.password)) ? OK : BAD_CREDENTIALS;
    }
    const v = u.verifier!;
    // Key stretching takes milliseconds: libuv's pool does it, not the shard's event loop.
    return new Promise((res) => {
      pbkdf2(Buffer.from(req.password!.toString('utf8').normalize('NFKC')), v.salt, v.iterations, 32, 'sha256', (err, salted) => {
        if (err !== null) { res(NOT_AUTHORIZED); return; }
        res(timingSafeEqual(sha256(hmac(salted, 'Client Key')), v.storedKey) ? OK : BAD_CREDENTIALS);
      });
    });
  }

  supportsMethod(method: string): boolean { return method === SCRAM_SHA_256; }

  begin(_method: string, _req: AuthRequest, _reauth: boolean): AuthExchange {
    return new ScramExchange(this);
  }

  /** The verifier of a user; a plain password is stretched once, on first use. */
  verifier(name: string): Verifier | null {
    const u = this.users.get(name);
    if (u === undefined) return null;
    if (u.verifier === null) {
      const salt = randomBytes(16);
      u.verifier = verifierFromSalted(pbkdf2Sync(Buffer.from(u.password!.toString('utf8').normalize('NFKC')), salt, DEFAULT_ITERATIONS, 32, 'sha256'), salt, DEFAULT_ITERATIONS);
    }
    return u.verifier;
  }

  /** A stable salt for a name that does not exist (so probing names gives nothing away). */
  fakeSalt(name: string): Buffer { return hmac(this.fakeSaltKey, name).subarray(0, 16); }
}

/** RFC 5802 `saslname`: `=2C` is ',' and `=3D` is '='; any other '=' is an error. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Server side of one SCRAM-SHA-256 conversation (two steps). */
class ScramExchange implements AuthExchange {
  private readonly hook: UsersFileAuth;
  private state = 0;
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private verifier: Verifier | null = null;

  constructor(hook: UsersFileAuth) { this.hook = hook; }

  step(data: Buffer | undefined): AuthOutcome {
    const text = data === undefined ? '' : data.toString('utf8');
    if (this.state === 0) {
      this.state = 1;
      // client-first-message = gs2-header client-first-message-bare; gs2-header = "n" "," [authzid] ","
      const m = /^(n|y),(?:a=[^,]*)?,(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)(?:,.*)?)$/.exec(text);
      if (m === null) return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: malformed client-first message' };
      const name = decodeSaslName(m[3]!);
      if (name === null || name === '') return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: malformed user name' };
      this.gs2Header = text.slice(0, text.length - m[2]!.length);
      this.clientFirstBare = m[2]!;
      this.verifier = this.hook.verifier(name);
      const salt = this.verifier?.salt ?? this.hook.fakeSalt(name);
      const iterations = this.verifier?.iterations ?? DEFAULT_ITERATIONS;
      this.nonce = m[4]! + this.hook.serverNonce();
      this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
      return { reason: Reason.CONTINUE_AUTHENTICATION, data: Buffer.from(this.serverFirst) };
    }
    if (this.state !== 1) return { reason: Reason.PROTOCOL_ERROR, reasonString: 'SCRAM: exchange already finished' };
    this.state = 2;
    // client-final-message = "c=" base64(gs2-header) ",r=" nonce [extensions] ",p=" proof
    const m = /^(c=([A-Za-z0-9+/=]*),r=([^,]*)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(text);
    if (m === null) return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: malformed client-final message' };
    if (Buffer.from(m[2]!, 'base64').toString('utf8') !== this.gs2Header || m[3] !== this.nonce) {
      return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: channel binding or nonce mismatch' };
    }
    const v = this.verifier;
    const proof = Buffer.from(m[4]!, 'base64');
    if (v === null || proof.length !== 32) return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: authentication failed' };
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${m[1]}`;
    const signature = hmac(v.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), v.storedKey)) return { reason: Reason.NOT_AUTHORIZED, reasonString: 'SCRAM: authentication failed' };
    return { reason: Reason.SUCCESS, data: Buffer.from(`v=${hmac(v.serverKey, authMessage).toString('base64')}`) };
  }
}

// Password checks for the database backends (Redis, PostgreSQL): the stored secret in one of
// the password file's formats (bcrypt, $7$, $6$, SCRAM-SHA-256; plain text only when allowed),
// checked on the shard's hashing pool (src/shared/auth/hash-pool.ts), never on its event loop:
// a bcrypt check at cost 10 takes tens of milliseconds. Or, when a backend names comqtt's
// `password-hash` type, an unsalted hex digest (md5, sha1, sha256, sha512, their HMACs with
// `hashKey`) or plain text: one digest is a microsecond, less than the pool's round trip, so
// those are compared here, in constant time.
// An unknown user name is checked against a decoy of the same cost, so answer times do not
// tell which names exist.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HashPool } from '../../../shared/auth/hash-pool.ts';
import { ErrorCode, ShoalError } from '../../../shared/errors.ts';
import { DECOY_SECRET } from '../../../shared/auth/password-file.ts';

/** comqtt's hash types, by their number in its configuration (0 none ... 8 hmac-sha512), and 'auto' (the secret says). */
export const HASH_TYPES = ['none', 'bcrypt', 'md5', 'sha1', 'sha256', 'sha512', 'hmac-sha1', 'hmac-sha256', 'hmac-sha512'] as const;
export type HashType = (typeof HASH_TYPES)[number] | 'auto';

/** A hash type option: a name, or comqtt's number for it. */
export function hashType(v: unknown): HashType | undefined {
  if (v === 'auto') return v;
  if (typeof v === 'number') return HASH_TYPES[v];
  return HASH_TYPES.find((t) => t === v);
}

// A bcrypt hash at comqtt's cost (10), of a password nobody is given.
const BCRYPT_DECOY = '$2b$10$de6T7ZNL5XQGIeRyNdtmfuFKD9iQnjpJr7WBVBdGJtLp2SO.LKYnS';

// One pool per shard thread and plain-text setting, shared by the backends that use it, closed
// when the last of them stops.
const pools = new Map<boolean, { pool: HashPool; users: number }>();

export class PasswordChecker {
  private readonly type: HashType;
  private readonly key: string;
  private readonly allowPlaintext: boolean;
  private readonly pool: HashPool;
  private closed = false;

  constructor(opts: { type: HashType; hashKey: string; allowPlaintext: boolean; threads: number }) {
    this.type = opts.type;
    this.key = opts.hashKey;
    this.allowPlaintext = opts.allowPlaintext;
    let entry = pools.get(opts.allowPlaintext);
    if (entry === undefined) pools.set(opts.allowPlaintext, entry = { pool: new HashPool({ threads: Math.max(1, opts.threads), allowPlaintext: opts.allowPlaintext }), users: 0 });
    entry.users++;
    this.pool = entry.pool;
  }

  /**
   * Whether `password` matches `secret`; `null` (no such user) checks a decoy and answers false.
   * A full pool queue answers false too: the backend answered, so it is no outage of it.
   */
  async verify(secret: string | null, password: Buffer): Promise<boolean> {
    try {
      return await this.check(secret, password);
    } catch (err) {
      if (err instanceof ShoalError && err.code === ErrorCode.HASH_POOL_BUSY) return false;
      throw err;
    }
  }

  private async check(secret: string | null, password: Buffer): Promise<boolean> {
    switch (this.type) {
      case 'auto': {
        const ok = await this.pool.verify(secret ?? DECOY_SECRET, password);
        return secret !== null && ok;
      }
      case 'bcrypt': {
        const s = secret !== null && secret.startsWith('$2') ? secret : BCRYPT_DECOY;
        const ok = await this.pool.verify(s, password);
        return s === secret && ok;
      }
      default: {
        // hex digests compare whatever the case they were stored in; plain text as it is
        const stored = secret === null ? '' : this.type === 'none' ? secret : secret.toLowerCase();
        const ok = sameText(this.digest(password), stored);
        return secret !== null && ok;
      }
    }
  }

  private digest(pw: Buffer): string {
    switch (this.type) {
      case 'none': return pw.toString('utf8');
      case 'md5': case 'sha1': case 'sha256': case 'sha512': return createHash(this.type).update(pw).digest('hex');
      default: return createHmac(this.type.slice(5), this.key).update(pw).digest('hex');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entry = pools.get(this.allowPlaintext)!;
    if (--entry.users === 0) {
      pools.delete(this.allowPlaintext);
      await entry.pool.close();
    }
  }
}

// Digests of both sides have one length, so the comparison tells nothing of the stored length.
function sameText(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

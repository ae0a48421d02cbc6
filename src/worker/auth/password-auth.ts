// The --password-file AuthHook: Mosquitto's password file (src/shared/auth/password-file.ts),
// every password checked on the shard's hashing pool (never on its event loop), SCRAM lines
// also usable through the MQTT 5 SCRAM-SHA-256 exchange (users.ts), and failed logins slowed
// down per client address. SIGHUP replaces the file (replace()); connections already in keep
// their login, as in Mosquitto.
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { Stat, type StatsBlock } from '../../shared/stats.ts';
import type { HashPool } from '../../shared/auth/hash-pool.ts';
import { checkLogin } from '../../shared/auth/login.ts';
import type { PasswordFile } from '../../shared/auth/password-file.ts';
import type { Logger } from 'pino';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from './hook.ts';
import { SCRAM_SHA_256, UsersFileAuth } from './users.ts';
import { FailedLogins } from './failed-logins.ts';

const OK: AuthOutcome = Object.freeze({ reason: Reason.SUCCESS });
const BAD_CREDENTIALS: AuthOutcome = Object.freeze({ reason: Reason.BAD_USER_NAME_OR_PASSWORD });
const NOT_AUTHORIZED: AuthOutcome = Object.freeze({ reason: Reason.NOT_AUTHORIZED });
const BUSY: AuthOutcome = Object.freeze({ reason: Reason.SERVER_BUSY });

/** What the hook needs of its shard: the counters and the log. */
export interface PasswordAuthContext { readonly id: number; readonly stats: StatsBlock; readonly log: Logger }

export class PasswordFileAuth implements AuthHook {
  private file: PasswordFile;
  private scram: UsersFileAuth;
  private readonly pool: HashPool;
  private readonly allowAnonymous: boolean;
  private readonly ctx: PasswordAuthContext;
  readonly failures: FailedLogins;

  constructor(ctx: PasswordAuthContext, file: PasswordFile, pool: HashPool, allowAnonymous: boolean, failures = new FailedLogins(ctx.stats.addresses)) {
    this.ctx = ctx;
    this.file = file;
    this.scram = scramUsers(file, allowAnonymous);
    this.pool = pool;
    this.allowAnonymous = allowAnonymous;
    this.failures = failures;
  }

  /** A reloaded password file (new CONNECTs use it; connected clients stay). */
  replace(file: PasswordFile): void {
    this.file = file;
    this.scram = scramUsers(file, this.allowAnonymous);
  }

  check(req: AuthRequest): Maybe<AuthOutcome> {
    if (req.username === undefined) {
      if (this.allowAnonymous && req.password === undefined) return OK;
      return this.refused(req, NOT_AUTHORIZED, 'no user name');
    }
    const user = req.username;
    return checkLogin(this.file, this.pool, user, req.password).then(
      (ok) => {
        if (!ok) return this.refused(req, BAD_CREDENTIALS, 'bad user name or password');
        if (this.failures.size > 0) this.failures.succeeded(address(req.remote)); // the address lookup is a syscall: only when needed
        return OK;
      },
      (err: unknown) => {
        if (err instanceof ShoalError && err.code === ErrorCode.HASH_POOL_BUSY) {
          this.ctx.log.info({ client: req.clientId, user, remote: req.remote }, 'connect refused: password hashing queue full (server busy)');
          return BUSY;
        }
        throw err;
      },
    );
  }

  /**
   * A refused login: counted, logged at info with client id, user and address, and answered
   * only after this address's delay, which doubles with each failure in a row (FailedLogins).
   */
  private refused(req: AuthRequest, outcome: AuthOutcome, why: string): Maybe<AuthOutcome> {
    const ctx = this.ctx;
    ctx.stats.add(ctx.id, Stat.AUTH_FAILED, 1);
    const remote = req.remote;
    const delay = this.failures.failed(address(remote));
    ctx.log.info({ client: req.clientId, user: req.username, remote, delayMs: delay }, `login failed: ${why}`);
    if (delay === 0) return outcome;
    return new Promise((res) => setTimeout(res, delay, outcome).unref());
  }

  supportsMethod(method: string): boolean { return method === SCRAM_SHA_256; }

  begin(method: string, req: AuthRequest, reauth: boolean): AuthExchange { return this.scram.begin(method, req, reauth); }
}

/** "1.2.3.4:5678" / "::1:5678" → the address without the port. */
export function address(remote: string): string {
  const i = remote.lastIndexOf(':');
  return i < 0 ? remote : remote.slice(0, i);
}

/** The file's SCRAM lines as the SCRAM-SHA-256 exchange of users.ts reads them. */
function scramUsers(file: PasswordFile, allowAnonymous: boolean): UsersFileAuth {
  const users = new Map<string, { name: string; password: Buffer | null; verifier: { iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer } | null }>();
  for (const e of file.users.values()) {
    if (e.hash.kind === 'scram-sha-256') users.set(e.user, { name: e.user, password: null, verifier: { iterations: e.hash.iterations, salt: e.hash.salt, storedKey: e.hash.storedKey, serverKey: e.hash.serverKey } });
  }
  return new UsersFileAuth(users, allowAnonymous);
}

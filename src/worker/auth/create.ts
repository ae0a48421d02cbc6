// How a shard builds its access hook and the built-in hooks of the registry (the password file,
// the users file, --auth-hook's module: every authentication decision is the registry's) from
// the configuration (the interfaces: hook.ts, access.ts, ../hooks/hook.ts), and how a reload
// swaps the files under them.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { BrokerConfig } from '../../shared/config.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { Acl } from '../../shared/auth/acl.ts';
import type { HashPool } from '../../shared/auth/hash-pool.ts';
import type { SecurityFiles } from '../../shared/auth/files.ts';
import { parsePasswordFile } from '../../shared/auth/password-file.ts';
import type { AccessHook } from './access.ts';
import { AclFileAccess } from './acl-access.ts';
import { AllowAll, type AuthHook, type Maybe } from './hook.ts';
import { PasswordFileAuth, type PasswordAuthContext } from './password-auth.ts';
import { PasswordFileHook } from './password-hook.ts';
import { AuthHookAdapter } from './hook-adapter.ts';
import type { Hook } from '../hooks/hook.ts';
import { UsersFileAuth } from './users.ts';

/**
 * A module given with `--auth-hook PATH` exports (default or `createAuthHook`) a function
 * `(config, base) => AuthHook`, where `base` is the users file's hook (`--auth-users`) or
 * allow-all: a custom hook can wrap it. The hook it returns becomes a hook of the registry
 * (AuthHookAdapter): its `check` is an onConnectAuthenticate, its methods an enhanced-
 * authentication server, after the password file's (which, with `--password-file`, serves
 * SCRAM-SHA-256 and decides first: both must allow) and before the modules'. Its promises get
 * the hook timeout. It may also implement AccessHook's `onACLCheck` (and `subscribeVerdict`,
 * `canDeliver`): then it decides topic access too, and `base.access` is the ACL file's hook
 * (if any) for it to ask.
 */
export type AuthHookFactory = (config: BrokerConfig, base: AuthHook & { access?: AccessHook }) => Maybe<AuthHook>;

/** What a shard's security is made of: the hooks it asks, and the file-backed parts a reload replaces. */
export interface ShardSecurity {
  /** what decides a CONNECT no hook refused: allow-all (hooks/auth.ts) */
  auth: AuthHook;
  /**
   * the broker's own hooks, for the front of the registry's stack in this order
   * (HookRegistry.prepend): the password file's, or the users file's; then --auth-hook's
   */
  builtins: Hook[];
  /** null: no access control (no guard is made, no check runs) */
  access: AccessHook | null;
  passwords: PasswordFileAuth | null;
  acl: AclFileAccess | null;
  pool: HashPool | null;
}

/**
 * Builds the shard's hooks from the configuration (runs once per shard at start). The password
 * and ACL files come as the texts main holds (`files`, ShardInit.security), not from the disk:
 * a shard restarted after a crash gets the generation its siblings were given, whatever the
 * files on disk hold by then.
 */
export async function createSecurity(config: BrokerConfig, files: SecurityFiles, ctx: PasswordAuthContext): Promise<ShardSecurity> {
  const sec: ShardSecurity = { auth: new AllowAll(), builtins: [], access: null, passwords: null, acl: null, pool: null };
  if (config.passwordFile !== '') {
    const file = parsePasswordFile(handed(files.passwordText, config.passwordFile), { allowPlaintext: config.allowPlaintextPasswords, source: config.passwordFile });
    for (const w of file.warnings) ctx.log.warn(w);
    // One small pool per shard (--hash-threads, 1 by default): a check needs no round trip
    // through main, and N shards hash on N threads (docs/security.md, "hashing pool").
    // Imported only with a password file: piscina costs each shard ~2 MiB of heap.
    const { HashPool } = await import('../../shared/auth/hash-pool.ts');
    sec.pool = new HashPool({ threads: config.hashThreads, allowPlaintext: config.allowPlaintextPasswords });
    const passwords = sec.passwords = new PasswordFileAuth(ctx, file, sec.pool, config.allowAnonymous);
    sec.builtins.push(new PasswordFileHook(passwords));
    if (config.authUsers !== '' && ctx.id === 0) ctx.log.warn(`--auth-users ${config.authUsers} is not used: --password-file supersedes it`);
  }
  const users = config.passwordFile === '' && config.authUsers !== '' ? UsersFileAuth.fromFile(config.authUsers, config.allowAnonymous) : null;
  if (config.aclFile !== '') {
    const acl = Acl.parse(handed(files.aclText, config.aclFile), config.aclFile);
    for (const w of acl.warnings) ctx.log.warn(w);
    sec.access = sec.acl = new AclFileAccess(acl);
  }
  if (config.authHook !== '') {
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(resolve(config.authHook)).href) as Record<string, unknown>;
    } catch (err) {
      throw new ShoalError(ErrorCode.CONFIG_INVALID, `--auth-hook ${config.authHook}: ${(err as Error).message}`, { cause: err });
    }
    const factory = (mod.createAuthHook ?? mod.default) as AuthHookFactory | undefined;
    if (typeof factory !== 'function') throw new ShoalError(ErrorCode.CONFIG_INVALID, `--auth-hook ${config.authHook} exports no createAuthHook or default function`);
    const base = (users ?? new AllowAll()) as AuthHook & { access?: AccessHook };
    if (sec.access !== null) base.access = sec.access;
    const hook = await factory(config, base);
    // The module wraps the users file (its base): the file is not asked again beside it.
    sec.builtins.push(new AuthHookAdapter(hook, false));
    if (typeof (hook as Partial<AccessHook>).onACLCheck === 'function') sec.access = hook as unknown as AccessHook;
  } else if (users !== null) {
    sec.builtins.push(new AuthHookAdapter(users, true));
  }
  return sec;
}

/** A configured file's text main handed over; a shard never runs a configured file as absent. */
function handed(text: string | null, path: string): string {
  if (text === null) throw new ShoalError(ErrorCode.CONFIG_INVALID, `${path}: its text was not handed to the shard`);
  return text;
}

/**
 * Applies what main sent on SIGHUP. Main has parsed both texts already, so a failure here
 * would be a bug; it is logged and the old file stays, as for a bad file.
 */
export function reloadSecurity(sec: ShardSecurity, config: BrokerConfig, r: SecurityFiles, ctx: PasswordAuthContext): void {
  try {
    if (r.passwordText !== null && sec.passwords !== null) sec.passwords.replace(parsePasswordFile(r.passwordText, { allowPlaintext: config.allowPlaintextPasswords, source: config.passwordFile }));
    if (r.aclText !== null && sec.acl !== null) sec.acl.replace(Acl.parse(r.aclText, config.aclFile));
  } catch (err) {
    ctx.log.error({ err }, 'reload failed in the shard: the old files stay');
  }
}

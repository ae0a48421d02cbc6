// How a shard builds its authentication hook from the configuration (the interface: hook.ts).
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { BrokerConfig } from '../../shared/config.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { AllowAll, type AuthHook, type Maybe } from './hook.ts';
import { UsersFileAuth } from './users.ts';

/**
 * A module given with `--auth-hook PATH` exports (default or `createAuthHook`) a function
 * `(config, base) => AuthHook`, where `base` is the hook the other flags configured (a users
 * file, or allow-all): a custom hook can wrap it.
 */
export type AuthHookFactory = (config: BrokerConfig, base: AuthHook) => Maybe<AuthHook>;

/** Builds the shard's hook from the configuration (runs once per shard at start). */
export async function createAuthHook(config: BrokerConfig): Promise<AuthHook> {
  let hook: AuthHook = config.authUsers !== '' ? UsersFileAuth.fromFile(config.authUsers, config.allowAnonymous) : new AllowAll();
  if (config.authHook !== '') {
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(resolve(config.authHook)).href) as Record<string, unknown>;
    } catch (err) {
      throw new ShoalError(ErrorCode.CONFIG_INVALID, `--auth-hook ${config.authHook}: ${(err as Error).message}`, { cause: err });
    }
    const factory = (mod.createAuthHook ?? mod.default) as AuthHookFactory | undefined;
    if (typeof factory !== 'function') throw new ShoalError(ErrorCode.CONFIG_INVALID, `--auth-hook ${config.authHook} exports no createAuthHook or default function`);
    hook = await factory(config, hook);
  }
  return hook;
}

// The texts of the password file and the ACL file, as main read them. Main reads both once at
// start and again on SIGHUP (src/main/reload.ts) and hands the texts to every shard it starts
// (ShardInit.security) or reloads, so a shard restarted after a crash holds the generation its
// siblings hold, never a newer or broken file that happens to be on disk by then.
import { readFileSync } from 'node:fs';
import type { BrokerConfig } from '../config.ts';
import { ErrorCode, ShoalError } from '../errors.ts';

/** null: that file is not configured (or, in a reload, failed and the old one stays). */
export interface SecurityFiles { passwordText: string | null; aclText: string | null }

/** Reads one configured file; unreadable is the file's own INVALID error, as a parse error is. */
export function readSecurityFile(path: string, code: typeof ErrorCode.PASSWORD_FILE_INVALID | typeof ErrorCode.ACL_FILE_INVALID): string {
  try { return readFileSync(path, 'utf8'); } catch (err) {
    throw new ShoalError(code, `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The configured files' texts at start (the shards parse them, so a parse error stops the start as before). */
export function readSecurityFiles(config: Pick<BrokerConfig, 'passwordFile' | 'aclFile'>): SecurityFiles {
  return {
    passwordText: config.passwordFile === '' ? null : readSecurityFile(config.passwordFile, ErrorCode.PASSWORD_FILE_INVALID),
    aclText: config.aclFile === '' ? null : readSecurityFile(config.aclFile, ErrorCode.ACL_FILE_INVALID),
  };
}

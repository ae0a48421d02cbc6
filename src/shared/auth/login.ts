// The CONNECT path's password check, in one call: the user's stored secret (or, for a name the
// file does not hold, a decoy costing the same) verified on the hashing pool. Refusals of the
// pool (SHOAL_HASH_POOL_BUSY) pass through for the caller to answer "server busy".
import type { HashPool } from './hash-pool.ts';
import { DECOY_SECRET, type PasswordFile } from './password-file.ts';

export async function checkLogin(file: PasswordFile, pool: HashPool, user: string, password: Uint8Array | undefined): Promise<boolean> {
  if (password === undefined) return false;
  const entry = file.users.get(user);
  // an unknown user costs a real hash too, so response time does not tell which names exist
  const ok = await pool.verify(entry?.secret ?? DECOY_SECRET, password);
  return entry !== undefined && ok;
}

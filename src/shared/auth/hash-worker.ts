// The piscina worker behind hash-pool.ts: password checks on a thread that is not a shard's.
// A task is a batch (the checks one event-loop turn asked for), so the per-task cost of the
// pool (a message each way, a promise) is paid once per batch, not once per CONNECT.
import { verifySecret } from './password-file.ts';

export interface VerifyTask { secrets: string[]; passwords: Uint8Array[]; allowPlaintext: boolean }

export default function verify(task: VerifyTask): Uint8Array {
  const out = new Uint8Array(task.secrets.length);
  for (let i = 0; i < out.length; i++) {
    const p = task.passwords[i]!;
    out[i] = verifySecret(task.secrets[i]!, Buffer.from(p.buffer, p.byteOffset, p.byteLength), task.allowPlaintext) ? 1 : 0;
  }
  return out;
}

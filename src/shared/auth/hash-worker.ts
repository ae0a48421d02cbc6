// The piscina worker behind hash-pool.ts: password checks on a thread that is not a shard's.
// A task is a batch (the checks one event-loop turn asked for), so the per-task cost of the
// pool (a message each way, a promise) is paid once per batch, not once per CONNECT.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { verifySecret } from './password-file.ts';

// The hashing thread yields the CPU to the shards: on a loaded machine a burst of checks would
// otherwise take a core from the shards' traffic (the issue's "must not delay other clients").
// Linux: a thread's id is its own scheduling entity (/proc/thread-self names it); elsewhere, or
// without the right, the thread keeps the process's priority.
try { setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10); } catch { /* not Linux, or not allowed */ }

/**
 * A batch of checks: `passwords` is one buffer moved here by the shard (hash-pool.ts packTask),
 * a Uint32 length per check and then the passwords' bytes in order.
 */
export interface VerifyTask { secrets: string[]; passwords: ArrayBuffer; allowPlaintext: boolean }

export default function verify(task: VerifyTask): Uint8Array {
  const n = task.secrets.length;
  const out = new Uint8Array(n);
  const lengths = new Uint32Array(task.passwords, 0, n);
  let at = n * 4;
  for (let i = 0; i < n; i++) {
    const len = lengths[i]!;
    out[i] = verifySecret(task.secrets[i]!, Buffer.from(task.passwords, at, len), task.allowPlaintext) ? 1 : 0;
    at += len;
  }
  return out;
}

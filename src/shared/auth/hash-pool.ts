// Password verification off the event loop: PBKDF2 with Mosquitto's 101 iterations of SHA-512
// costs ~0.1-0.3 ms, a SCRAM verifier with 4096 iterations several ms; a burst of CONNECTs with
// passwords would otherwise stall every other client of the shard. The pool is small (it shares
// the cores with the shards) and its queue is bounded: beyond it a check is refused at once with
// SHOAL_HASH_POOL_BUSY, which the CONNECT path answers with "server busy" (v5 0x89, 3.1.1 code 3)
// instead of letting the backlog and the clients' waits grow without bound.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ErrorCode, ShoalError } from '../errors.ts';
import { moduleUrl } from '../module-url.ts';
import type { VerifyTask } from './hash-worker.ts';
import { verifySecret } from './password-file.ts';

export interface HashPoolOptions {
  /** worker threads (default: 1 per 4 cores, at least 1, at most 4); 0 = inline on the caller's thread (for measuring what the pool saves) */
  threads?: number;
  /** checks outstanding (waiting or running) beyond which new ones are refused (default 1024) */
  maxQueue?: number;
  /** most checks sent to a thread as one task (default 32) */
  batch?: number;
  /** accept plain-text secrets (the password file was loaded with allowPlaintext) */
  allowPlaintext?: boolean;
}

export const DEFAULT_HASH_QUEUE = 1024;
const DEFAULT_BATCH = 32;

export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 4)));
}

interface Pending { secret: string; password: Uint8Array; resolve: (ok: boolean) => void; reject: (err: unknown) => void }

export class HashPool {
  private readonly pool: Piscina | null;
  private readonly maxQueue: number;
  private readonly batch: number;
  private readonly allowPlaintext: boolean;
  private pending: Pending[] = [];
  private flushQueued = false;
  private outstanding = 0;
  private closed = false;

  constructor(opts: HashPoolOptions = {}) {
    const threads = opts.threads ?? defaultHashThreads();
    this.maxQueue = opts.maxQueue ?? DEFAULT_HASH_QUEUE;
    this.batch = opts.batch ?? DEFAULT_BATCH;
    this.allowPlaintext = opts.allowPlaintext === true;
    this.pool = threads === 0 ? null : new Piscina({
      filename: moduleUrl('./hash-worker.ts', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  /** checks asked for and not yet answered */
  get queued(): number { return this.outstanding; }

  /**
   * Whether `password` matches the stored `secret` (the text after `user:` in the password file).
   * Rejects with SHOAL_HASH_POOL_BUSY, without queueing, when `maxQueue` checks are outstanding.
   * Checks asked for in one event-loop turn travel to the pool together (one task per `batch`).
   */
  verify(secret: string, password: Uint8Array): Promise<boolean> {
    if (this.closed) return Promise.reject(new ShoalError(ErrorCode.HASH_POOL_BUSY, 'password hashing pool is closed'));
    if (this.outstanding >= this.maxQueue) {
      return Promise.reject(new ShoalError(ErrorCode.HASH_POOL_BUSY, `password hashing queue full (${this.maxQueue} outstanding)`));
    }
    if (this.pool === null) return Promise.resolve(verifySecret(secret, Buffer.from(password.buffer, password.byteOffset, password.byteLength), this.allowPlaintext));
    this.outstanding++;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ secret, password, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        // after the turn's I/O callbacks, not after this one: each socket's CONNECT is its own
        // callback, and a microtask flush sent one task per check (measured in a burst)
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushQueued = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += this.batch) this.send(all.slice(i, i + this.batch));
  }

  private send(group: Pending[]): void {
    const task: VerifyTask = { secrets: group.map((p) => p.secret), passwords: group.map((p) => p.password), allowPlaintext: this.allowPlaintext };
    (this.pool!.run(task) as Promise<Uint8Array>).then((answers) => {
      this.outstanding -= group.length;
      for (let i = 0; i < group.length; i++) group[i]!.resolve(answers[i] === 1);
    }, (err: unknown) => {
      this.outstanding -= group.length;
      for (const p of group) p.reject(err);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.destroy();
  }
}

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
  /** tasks in flight per thread (default 2: one running, one waiting); the rest wait here */
  inFlightPerThread?: number;
  /** accept plain-text secrets (the password file was loaded with allowPlaintext) */
  allowPlaintext?: boolean;
}

export const DEFAULT_HASH_QUEUE = 1024;
const DEFAULT_BATCH = 32;
const DEFAULT_IN_FLIGHT_PER_THREAD = 2;

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
  /** index of the first check of `pending` not yet sent */
  private sentUpTo = 0;
  private flushQueued = false;
  private tasksInFlight = 0;
  private readonly maxTasksInFlight: number;
  private outstanding = 0;
  private closed = false;

  constructor(opts: HashPoolOptions = {}) {
    const threads = opts.threads ?? defaultHashThreads();
    this.maxQueue = opts.maxQueue ?? DEFAULT_HASH_QUEUE;
    this.batch = opts.batch ?? DEFAULT_BATCH;
    this.allowPlaintext = opts.allowPlaintext === true;
    this.maxTasksInFlight = Math.max(1, threads) * (opts.inFlightPerThread ?? DEFAULT_IN_FLIGHT_PER_THREAD);
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
    this.sendWaiting();
  }

  /**
   * Sends checks that wait, a batch per task, while fewer than maxTasksInFlight are out: piscina
   * would queue the rest anyway, and checks that wait here are still one array, not a cloned
   * message each; a task's answer sends the next.
   */
  private sendWaiting(): void {
    while (this.tasksInFlight < this.maxTasksInFlight && this.sentUpTo < this.pending.length) {
      const from = this.sentUpTo;
      const to = Math.min(this.pending.length, from + this.batch);
      this.sentUpTo = to;
      this.send(this.pending.slice(from, to));
    }
    if (this.sentUpTo === this.pending.length) { this.pending = []; this.sentUpTo = 0; }
  }

  private send(group: Pending[]): void {
    const task = packTask(group, this.allowPlaintext);
    this.tasksInFlight++;
    // piscina types transferList from postMessage's options overload; an array is what it passes on
    (this.pool!.run(task, { transferList: [task.passwords] as never }) as Promise<Uint8Array>).then((answers) => {
      this.tasksInFlight--;
      this.outstanding -= group.length;
      for (let i = 0; i < group.length; i++) group[i]!.resolve(answers[i] === 1);
      this.sendWaiting();
    }, (err: unknown) => {
      this.tasksInFlight--;
      this.outstanding -= group.length;
      for (const p of group) p.reject(err);
      this.sendWaiting();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // checks not yet sent are answered as piscina answers those it had queued: refused
    const unsent = this.pending.slice(this.sentUpTo);
    this.pending = [];
    this.sentUpTo = 0;
    this.outstanding -= unsent.length;
    for (const p of unsent) p.reject(new ShoalError(ErrorCode.HASH_POOL_BUSY, 'password hashing pool is closed'));
    await this.pool?.destroy();
  }
}

/**
 * A batch as one task whose passwords are one ArrayBuffer, moved to the pool thread (not
 * copied): each password is a view into the shard's 64 KiB read slab, and postMessage of a view
 * clones the whole buffer under it (64 KiB per task at least, more when a batch spans slabs).
 * Layout: a Uint32 length per password, then the passwords' bytes back to back.
 */
function packTask(group: Pending[], allowPlaintext: boolean): VerifyTask {
  let bytes = 0;
  for (const p of group) bytes += p.password.byteLength;
  const head = group.length * 4;
  const buf = new ArrayBuffer(head + bytes);
  const lengths = new Uint32Array(buf, 0, group.length);
  const body = new Uint8Array(buf);
  let at = head;
  const secrets = new Array<string>(group.length);
  for (let i = 0; i < group.length; i++) {
    const p = group[i]!;
    secrets[i] = p.secret;
    lengths[i] = p.password.byteLength;
    body.set(p.password, at);
    at += p.password.byteLength;
  }
  return { secrets, passwords: buf, allowPlaintext };
}

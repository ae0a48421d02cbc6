// Runs a tool's per-thread part ("shard") in N worker threads, or in the main thread when
// N = 1, behind one call interface: the main thread calls a named phase on every shard and
// gets back one result per shard. Each shard owns its sockets and its histogram.
import { Worker } from 'node:worker_threads';

export interface Progress {
  connected: number;
  failed: number;
}

export interface ShardContext {
  index: number;
  count: number;
  progress(p: Progress): void;
}

/** What a shard module exports as `createShard`. */
export interface Shard {
  call(phase: string, arg: unknown): Promise<unknown>;
}
export type ShardFactory = (init: unknown, ctx: ShardContext) => Shard;

interface ShardModule {
  createShard: ShardFactory;
}

/** Messages from thread-entry.ts. */
export type FromShard =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: string; code: string | null }
  | { kind: 'progress'; progress: Progress };

export interface ToShard {
  id: number;
  phase: string;
  arg: unknown;
}

/** A phase every shard answers at once, handled by thread-entry.ts (and inline here). */
export const READY = '__ready';

export class ShardError extends Error {
  readonly code: string | null;
  constructor(message: string, code: string | null) {
    super(message);
    this.code = code;
  }
}

interface Handle {
  call(phase: string, arg: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export class ShardPool {
  private readonly handles: Handle[];
  /** Latest progress of each shard. */
  readonly progress: Progress[];

  private constructor(handles: Handle[], progress: Progress[]) {
    this.handles = handles;
    this.progress = progress;
  }

  static async start(module: URL, inits: unknown[]): Promise<ShardPool> {
    const progress = inits.map(() => ({ connected: 0, failed: 0 }));
    const handles: Handle[] = [];
    if (inits.length === 1) {
      const mod = (await import(module.href)) as ShardModule;
      const shard = mod.createShard(inits[0], { index: 0, count: 1, progress: (p) => { progress[0] = p; } });
      handles.push({ call: (phase, arg) => (phase === READY ? Promise.resolve(null) : shard.call(phase, arg)), close: async () => {} });
    } else {
      for (let i = 0; i < inits.length; i++) handles.push(startWorker(module, i, inits.length, inits[i], (p) => { progress[i] = p; }));
    }
    // Wait until every thread has loaded its module, so the first timed phase does not
    // include thread start-up.
    await Promise.all(handles.map((h) => h.call(READY, null)));
    return new ShardPool(handles, progress);
  }

  get size(): number {
    return this.handles.length;
  }

  /** Calls `phase` on every shard; `arg` is one value for all or a function of the shard index. */
  all<R>(phase: string, arg?: unknown | ((index: number) => unknown)): Promise<R[]> {
    return Promise.all(this.handles.map((h, i) => h.call(phase, typeof arg === 'function' ? arg(i) : arg) as Promise<R>));
  }

  totalProgress(): Progress {
    return this.progress.reduce((a, p) => ({ connected: a.connected + p.connected, failed: a.failed + p.failed }), { connected: 0, failed: 0 });
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }
}

function startWorker(module: URL, index: number, count: number, init: unknown, onProgress: (p: Progress) => void): Handle {
  const worker = new Worker(new URL('./thread-entry.ts', import.meta.url), {
    workerData: { module: module.href, index, count, init },
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  const failAll = (err: Error): void => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: FromShard) => {
    if (m.kind === 'progress') return onProgress(m.progress);
    const p = pending.get(m.id);
    if (p === undefined) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new ShardError(m.error, m.code));
  });
  worker.on('error', (err: unknown) => failAll(new ShardError(`thread ${index} crashed: ${err instanceof Error ? err.message : String(err)}`, null)));
  worker.on('exit', (code) => failAll(new ShardError(`thread ${index} exited with code ${code}`, null)));
  return {
    call(phase, arg) {
      if (dead !== null) return Promise.reject(dead);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const msg: ToShard = { id, phase, arg };
        worker.postMessage(msg);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

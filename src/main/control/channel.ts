// Main's end of the one control channel to the shards, for the admin port and the embedding API
// alike: one question, one answer, matched by a sequence number over the worker's MessagePort. A
// shard that exits fails what it had pending; the deadline (the caller's AbortSignal, see
// gather) forgets what it never answers. A refusal with a stable code rejects with a ShoalError.
import type { AdminQuery } from '../../shared/admin-query.ts';
import type { ControlFromShard, ControlToShard } from '../../shared/control.ts';
import { ShoalError } from '../../shared/errors.ts';
import type { ShardAsker } from '../admin/shard-query.ts';

type Answer = Extract<ControlFromShard, { type: 'answer' }>;

/** What the channel needs of the supervisor. */
export interface ShardPorts {
  readonly count: number;
  isUp(shard: number): boolean;
  post(shard: number, msg: ControlToShard): void;
  /** Sets who hears each shard's answers; `null` for a shard that exited (its questions fail). */
  onAnswer(listener: (shard: number, answer: Answer | null) => void): void;
}

interface Pending { shard: number; resolve(v: unknown): void; reject(e: Error): void }

export class ControlChannel implements ShardAsker<AdminQuery, unknown> {
  private readonly ports: ShardPorts;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(ports: ShardPorts) {
    this.ports = ports;
    ports.onAnswer((shard, a) => {
      if (a === null) {
        for (const [seq, p] of this.pending) if (p.shard === shard) { this.pending.delete(seq); p.reject(new Error(`shard ${shard} exited`)); }
        return;
      }
      const p = this.pending.get(a.seq);
      if (p === undefined) return; // past its deadline
      this.pending.delete(a.seq);
      if (a.ok) p.resolve(a.value);
      else p.reject(a.code === undefined ? new Error(a.error) : new ShoalError(a.code, a.error));
    });
  }

  get count(): number { return this.ports.count; }
  isUp(shard: number): boolean { return this.ports.isUp(shard); }

  ask(shard: number, query: AdminQuery, signal: AbortSignal): Promise<unknown> {
    if (!this.ports.isUp(shard)) return Promise.reject(new Error(`shard ${shard} is down`));
    const seq = this.seq = (this.seq + 1) >>> 0;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { shard, resolve, reject });
      signal.addEventListener('abort', () => { if (this.pending.delete(seq)) reject(new Error('deadline passed')); }, { once: true });
      this.ports.post(shard, { type: 'query', seq, query });
    });
  }

  /** Questions asked and not answered (a test checks none leak past their deadline). */
  get waiting(): number { return this.pending.size; }
}

// Messages that matched the stale routes of a restarted peer (routing.ts): they wait here until
// that peer says its persistent sessions are back (SYNC_DONE), then go to it if its new routes
// match, and their publishers' acks wait for its commit of them. Withholding the ack instead
// (the publisher disconnected, to resend) cost a client that had just reconnected elsewhere
// its first QoS 1 publish (test/regress/restart-reconnect-race): its own session was already
// back at its home shard, but the publish still matched the crashed owner's old routes.
import type { Message } from '../session/message.ts';

/** Bounds: past them a message's ack is withheld, as before (the publisher resends). */
const MAX_WAITING = 10_000;
/** Longer than a restarted shard waits for its peers' ownership lists (registry.ts, 5 s). */
const WAIT_MS = 10_000;

interface Waiting {
  msg: Message;
  /** The restarted peers it still waits for. */
  mask: number;
  /** The commit barriers of the peers it was forwarded to once they were ready. */
  commits: Promise<boolean>[] | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** What the wait asks of routing and of the commit gate. */
export interface ReadyTarget {
  /** Forwards `msg` to `peer` if the peer's routes match it now; true when it did. */
  forwardIfRouted(msg: Message, peer: number): boolean;
  /** Resolves once `peer` has committed what this shard sent it so far (true: it crashed first). */
  committedAt(peer: number): Promise<boolean>;
}

export class UntilReady {
  private readonly target: ReadyTarget;
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(target: ReadyTarget) { this.target = target; }

  /** A promise for the publisher's ack to wait for, or null when full (withhold the ack). */
  add(msg: Message, mask: number): Promise<void> | null {
    if (this.waiting.length >= MAX_WAITING) return null;
    if (this.timer === null) {
      this.timer = setTimeout(() => this.expire(), WAIT_MS);
      this.timer.unref();
    }
    return new Promise((resolve, reject) => { this.waiting.push({ msg, mask, commits: null, resolve, reject }); });
  }

  /** `peer` has its sessions back and their routes announced: forward what waited for it, in order. */
  ready(peer: number): void {
    const bit = 1 << peer;
    const mine: Waiting[] = [];
    const sent: Waiting[] = [];
    for (const w of this.waiting) {
      if ((w.mask & bit) === 0) continue;
      w.mask &= ~bit;
      if (this.target.forwardIfRouted(w.msg, peer)) sent.push(w);
      mine.push(w);
    }
    if (mine.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.mask !== 0);
    if (this.waiting.length === 0 && this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (sent.length > 0) {
      // One barrier vouches for every frame before it (rings are FIFO).
      const commit = this.target.committedAt(peer);
      for (const w of sent) (w.commits ??= []).push(commit);
    }
    for (const w of mine) {
      if (w.mask !== 0) continue; // still waits for another restarted peer
      if (w.commits === null) { w.resolve(); continue; }
      Promise.all(w.commits).then((lost) => {
        if (lost.includes(true)) w.reject(new Error('a restarted shard crashed before committing'));
        else w.resolve();
      });
    }
  }

  /** A peer that never said it is ready: the acks are withheld (their publishers resend). */
  private expire(): void {
    this.timer = null;
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.reject(new Error('a restarted shard did not get its sessions back in time'));
  }
}

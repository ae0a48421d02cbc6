// The shard's budget for a burst of new connections: at most so many new sockets are taken up,
// so many CONNECTs handled and so many authentication answers acted on per event-loop turn; the rest wait in arrival order and are
// taken that many per turn from setImmediate. A burst reaches a shard as hundreds of sockets in
// one message drain (main's hand-offs) or accept loop, then hundreds of readable sockets in one
// poll phase (measured: 250-600 CONNECTs, 25-180 ms in one turn, and 505 sockets, 53 ms), and
// the PUBLISHes of established clients read in those phases waited behind all of them (and
// behind the CONNACKs of every password check the pool answered meanwhile: 130 ms); now
// they wait for one turn's share at most (issue #13: a burst of 1,000 CONNECTs must not delay
// other clients' traffic by more than a few ms; docs/security.md has the figures).
//
// With no burst the cost is a counter and one setImmediate per turn that saw a new connection.
import type { Maybe } from '../../auth/hook.ts';
import type { Connection } from '../../net/connection.ts';

/** CONNECTs per turn: each costs ~30-100 µs of the shard (decode, checks, the auth call, the claim). */
export const CONNECTS_PER_TURN = 16;
/** New sockets per turn: each costs ~20-100 µs (the connection, the limits, starting its reads). */
export const SOCKETS_PER_TURN = 32;
/** Asynchronous authentication answers per turn: each is a claim, a session and a CONNACK written. */
export const ANSWERS_PER_TURN = 16;

/** So many items per turn; the rest wait in line for `run` in later turns. */
export class TurnBudget<T> {
  private readonly perTurn: number;
  private readonly run: (item: T) => void;
  private used = 0;
  private turnQueued = false;
  private draining = false;
  private readonly waiting: (T | null)[] = [];
  private head = 0;

  constructor(perTurn: number, run: (item: T) => void) {
    this.perTurn = perTurn;
    this.run = run;
  }

  /** true: go ahead now. false: `item` waits in line, and `run(item)` is called in a later turn. */
  admit(item: T): boolean {
    if (this.draining) return true; // run() from the line: already counted
    if (this.used < this.perTurn && this.head === this.waiting.length) {
      this.used++;
      this.queueTurn();
      return true;
    }
    this.waiting.push(item);
    this.queueTurn();
    return false;
  }

  /** items waiting for a later turn */
  get waitingCount(): number { return this.waiting.length - this.head; }

  private queueTurn(): void {
    if (this.turnQueued) return;
    this.turnQueued = true;
    setImmediate(this.nextTurn);
  }

  /** A new turn: the budget again, spent first on those waiting longest. */
  private readonly nextTurn = (): void => {
    this.turnQueued = false;
    this.used = 0;
    this.draining = true;
    try {
      while (this.used < this.perTurn && this.head < this.waiting.length) {
        const item = this.waiting[this.head]!;
        this.waiting[this.head++] = null; // a closed connection is not kept
        this.used++;
        this.run(item);
      }
    } finally {
      this.draining = false;
    }
    if (this.head === this.waiting.length) { this.waiting.length = 0; this.head = 0; } else this.queueTurn();
  };
}

/**
 * The shard's CONNECTs (one budget per shard: module state is per thread, and a shard is a
 * thread). A waiting CONNECT is held on its connection (holdPacket) and dispatched again.
 */
export const connectBudget = new TurnBudget<Connection>(CONNECTS_PER_TURN, (c) => c.resumePackets());

interface Answer<T> { value: T; resolve: (v: T) => void }
const answers = new TurnBudget<Answer<unknown>>(ANSWERS_PER_TURN, (a) => a.resolve(a.value));

/**
 * An authentication hook's answer, acted on within the shard's answer budget: a synchronous one
 * as it is; a promise resolves when its turn comes (the hash pool answers checks in batches, and
 * the answers of several batches may arrive in one turn).
 */
export function paced<T>(v: Maybe<T>): Maybe<T> {
  if (typeof (v as Partial<PromiseLike<T>>).then !== 'function') return v;
  return Promise.resolve(v).then((value) => {
    const a: Answer<unknown> = { value, resolve: () => {} };
    if (answers.admit(a)) return value;
    return new Promise<T>((resolve) => { a.resolve = resolve as (v: unknown) => void; });
  });
}

// The shard's budget for a burst of new connections: new sockets taken up, CONNECTs handled and
// authentication answers acted on share one allowance of steps per event-loop turn; the rest
// wait in arrival order and are taken from setImmediate in later turns. A burst reaches a shard
// as hundreds of sockets in one message drain (main's hand-offs) or accept loop, then hundreds
// of readable sockets in one poll phase (measured: 250-600 CONNECTs, 25-180 ms in one turn, and
// 505 sockets, 53 ms), and the PUBLISHes of established clients read in those phases waited
// behind all of them (and behind the CONNACKs of every password check the pool answered
// meanwhile: 130 ms); now they wait for one turn's allowance at most (issue #13: a burst of
// 1,000 CONNECTs must not delay other clients' traffic by more than a few ms; docs/security.md
// and BENCHMARKS.md, "CONNECT burst", have the figures; the longest stalls left after this
// budget were the descriptor table's doublings, reserved at start now: main/fd-table.ts).
//
// With no burst the cost is a counter and one setImmediate per turn that saw a new connection.
import type { Maybe } from '../../auth/hook.ts';
import type { Connection } from '../../net/connection.ts';

/**
 * Intake steps per turn, shared by the three lines below (new sockets, CONNECTs, authentication
 * answers): each step costs the shard ~30-100 µs (a socket taken up: its Connection and first
 * read; a CONNECT: decode, checks, the auth call; an answer: the claim, the session and the
 * CONNACK write), so a turn spends ~1-2 ms on a burst before other clients' reads are served.
 * One allowance rather than one per line: three separate ones let a turn do all three shares
 * back to back (64 steps, 5-8 ms with the scavenges they cause).
 */
export const INTAKE_PER_TURN = 16;

/**
 * One event-loop turn's allowance, shared by the lines (TurnBudget) made with it; in a later
 * turn the lines are served in the order they were made, each until the allowance is spent.
 */
export class Turn {
  readonly perTurn: number;
  used = 0;
  /**
   * Steps already paid for items a line expects soon: a socket taken up pays for its CONNECT,
   * which arrives in the next poll phase and then need not wait (a held CONNECT costs a copy, a
   * pause and a resume). At most a turn's worth: a socket whose client is slow to send its
   * CONNECT (or never does) leaves its step to another, and never more than that many go
   * ahead on credit in one poll phase.
   */
  credit = 0;
  private queued = false;
  private readonly lines: TurnBudget<never>[] = [];

  constructor(perTurn: number) { this.perTurn = perTurn; }

  /** A line of this turn's allowance; served after the lines made before it. */
  add(line: TurnBudget<never>): void { this.lines.push(line); }

  /** A turn to come resets the allowance (and serves whoever waits then). */
  request(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(this.next);
  }

  /** A new turn: the allowance again, spent first on the first line's longest waiting. */
  private readonly next = (): void => {
    this.queued = false;
    this.used = 0;
    let waiting = false;
    for (const l of this.lines) {
      l.drain();
      if (l.waitingCount > 0) waiting = true;
    }
    if (waiting) this.request();
  };
}

/** How a line spends its Turn's steps. */
export interface LineCost {
  /** Steps an item costs (default 1). */
  cost?: number;
  /** Each item taken also pays one step in advance for what it brings (Turn.credit). */
  prepays?: boolean;
  /** An item may go ahead on a step paid in advance, even of those waiting. */
  usesCredit?: boolean;
}

/** So many items per turn (alone, or a share of a Turn with other lines); the rest wait in line for `run` in later turns. */
export class TurnBudget<T> {
  private readonly turn: Turn;
  private readonly run: (item: T) => void;
  private readonly cost: number;
  private readonly prepays: boolean;
  private readonly usesCredit: boolean;
  private draining = false;
  private readonly waiting: (T | null)[] = [];
  private head = 0;

  constructor(perTurn: number | Turn, run: (item: T) => void, how: LineCost = {}) {
    this.turn = typeof perTurn === 'number' ? new Turn(perTurn) : perTurn;
    this.run = run;
    this.cost = how.cost ?? 1;
    this.prepays = how.prepays === true;
    this.usesCredit = how.usesCredit === true;
    this.turn.add(this as unknown as TurnBudget<never>);
  }

  /** true: go ahead now. false: `item` waits in line, and `run(item)` is called in a later turn. */
  admit(item: T): boolean {
    if (this.draining) return true; // run() from the line: already counted
    const turn = this.turn;
    // Paid in advance: ahead of those waiting (they wait for steps, this one has its own).
    if (this.usesCredit && turn.credit > 0) { turn.credit--; return true; }
    if (this.head === this.waiting.length && this.fits(turn)) {
      this.spend(turn);
      turn.request();
      return true;
    }
    this.waiting.push(item);
    turn.request();
    return false;
  }

  /** items waiting for a later turn */
  get waitingCount(): number { return this.waiting.length - this.head; }

  /** Runs those waiting longest while the turn's allowance lasts (Turn calls it in a new turn). */
  drain(): void {
    const turn = this.turn;
    this.draining = true;
    try {
      while (this.head < this.waiting.length && this.fits(turn)) {
        const item = this.waiting[this.head]!;
        this.waiting[this.head++] = null; // a closed connection is not kept
        this.spend(turn);
        this.run(item);
      }
    } finally {
      this.draining = false;
    }
    if (this.head === this.waiting.length) { this.waiting.length = 0; this.head = 0; }
  }

  /** The turn has this line's cost left (an item costlier than a whole turn still gets a turn of its own). */
  private fits(turn: Turn): boolean { return turn.used === 0 || turn.used + this.cost <= turn.perTurn; }

  private spend(turn: Turn): void {
    turn.used += this.cost;
    if (this.prepays && turn.credit < turn.perTurn) turn.credit++;
  }
}

/**
 * The shard's intake allowance (module state is per thread, and a shard is a thread). Its lines
 * in the order served: CONNECTs, authentication answers (they finish connections), then new
 * sockets (shard.ts), whose reads bring more CONNECTs: a socket is taken up only when the
 * CONNECTs and answers before it have been handled, and it pays for its own CONNECT
 * (NEW_SOCKET_COST), so that one need not be held (holdPacket: a copy, a pause and a resume
 * each), even when unpaid ones wait. Between CONNECTs of different sockets the order is the
 * shard's, as it always was between the sockets read in one poll phase (of two with the same
 * client id, the one handled last takes over); a connection's own packets keep theirs.
 */
export const intakeTurn = new Turn(INTAKE_PER_TURN);

/** The shard's CONNECTs: a waiting CONNECT is held on its connection (holdPacket) and dispatched again. */
export const connectBudget = new TurnBudget<Connection>(intakeTurn, (c) => c.resumePackets(), { usesCredit: true });

interface Answer<T> { value: T; resolve: (v: T) => void }
const answers = new TurnBudget<Answer<unknown>>(intakeTurn, (a) => a.resolve(a.value));

/** How the shard's new sockets spend the allowance: the socket's step and its CONNECT's, paid in advance. */
export const NEW_SOCKET_COST: LineCost = { cost: 2, prepays: true };

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

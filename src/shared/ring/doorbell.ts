// Wake-up word for one consumer thread, shared by every producer that targets it.
//
// Producers bump a sequence number and Atomics.notify once per batch. The consumer never
// blocks (Atomics.wait would stall its event loop); it parks with Atomics.waitAsync on the
// sequence value it read *before* draining. If a producer rang while the consumer was busy,
// the value has moved and waitAsync answers "not-equal" at once, so no wake-up is lost.
//
// A notify is not cheap (V8 posts a task to the waiting thread's loop: a lock and a write to
// its wake-up fd; 5% of a publishing shard's time in a profile of the isolation workload),
// and one sent while the consumer is awake, or already being woken, tells it nothing new. So
// a PENDING word says "awake, or a wake-up is on its way": the consumer sets it when it wakes
// and clears it just before it parks; the producer that turns it from 0 to 1 notifies, the
// others only bump the sequence. A producer that found it set bumped the sequence before the
// clear (all of these are sequentially consistent atomics), so the wait compares against a
// moved sequence and returns at once.
//
// Node does not count a pending waitAsync as keeping the event loop alive (a worker whose
// only job is listening would just exit), so listen() holds a timer handle until stop(),
// like a listening server; unref() opts out. The timer also watches for a lost wake-up.

import { CACHE_LINE } from './layout.ts';

const SEQ = 0;
/** 1 while the consumer is awake or a notify is on its way to it (see above). */
const PENDING = 1;
/**
 * How often a parked consumer checks that it was not left parked with frames behind its
 * sequence (a lost wake-up). Nothing known loses one; the check makes one a delay of this
 * long and a counted event (`missedWakes`, onMissed) instead of a ring nobody drains again.
 */
const WATCH_MS = 1000;

/** onWake may return true to say "I stopped at my budget, call me again after I/O". */
export type WakeHandler = () => void | boolean;

export class Doorbell {
  /** Padded to a cache line so bells of different threads do not false-share. */
  static readonly byteLength = CACHE_LINE;

  private readonly i32: Int32Array;
  private generation = 0;
  private listening = false;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private refed = true;
  /** Notifies this instance (a producer's) sent: rings that found no wake-up on its way. */
  notifies = 0;
  /** Times the watch found this consumer parked behind a moved sequence, and woke it. */
  missedWakes = 0;

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`doorbell byteOffset must be a non-negative multiple of 4, got ${byteOffset}`);
    }
    if (byteOffset + 8 > sab.byteLength) {
      throw new RangeError(`doorbell at offset ${byteOffset} is outside the buffer (${sab.byteLength} bytes)`);
    }
    this.i32 = new Int32Array(sab, byteOffset, 2);
  }

  /** Producer: call once per batch of writes, after the ring's write index is published. */
  ring(): void {
    Atomics.add(this.i32, SEQ, 1);
    if (Atomics.compareExchange(this.i32, PENDING, 0, 1) === 0) {
      this.notifies++;
      Atomics.notify(this.i32, SEQ);
    }
  }

  /** Current sequence value (for tests and diagnostics). */
  sequence(): number {
    return Atomics.load(this.i32, SEQ);
  }

  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Consumer: call `onWake` on the event loop whenever the sequence moved since the previous
   * call, plus once right after listen() (frames may have been written before anyone
   * listened). If onWake returns true (budget exhausted, more to do) it is called again after
   * a setImmediate, whether or not anyone rang. One listener per doorbell.
   */
  listen(onWake: WakeHandler, onMissed?: () => void): void {
    if (this.listening) throw new Error('doorbell already has a listener');
    this.listening = true;
    const generation = ++this.generation;
    const i32 = this.i32;
    let seen = 0;
    let parked = false;
    // Also the handle that keeps the loop alive (see above).
    this.keepAlive = setInterval(() => {
      if (!parked || Atomics.load(i32, SEQ) === seen) return;
      this.missedWakes++;
      onMissed?.();
      Atomics.notify(i32, SEQ); // resolves our own pending wait: the usual wake-up path
    }, WATCH_MS);
    if (!this.refed) this.keepAlive.unref();

    const wake = (): void => {
      parked = false;
      if (generation !== this.generation) return;
      // Awake: rings from now until we park need no notify.
      Atomics.store(i32, PENDING, 1);
      seen = Atomics.load(i32, SEQ);
      let more = false;
      try {
        more = onWake() === true;
      } finally {
        // Re-arm even if onWake threw, so an error the host chooses to survive does not
        // silently stop the consumer.
        arm(more);
      }
    };
    const arm = (more: boolean): void => {
      if (generation !== this.generation) return;
      if (more) {
        setImmediate(wake);
        return;
      }
      // Cleared only here, right before parking: a ring after this notifies; one before it
      // bumped SEQ first, so the wait below answers "not-equal". (Cleared when waking instead,
      // a ring between the clear and the read of SEQ left it set, its frames already drained
      // and its notify sent to nobody: the consumer parked and was never woken again.)
      Atomics.store(i32, PENDING, 0);
      const res = Atomics.waitAsync(i32, SEQ, seen);
      if (res.async) { parked = true; res.value.then(wake); }
      // Rang while we were draining: go again, but after I/O so a busy producer cannot
      // starve this thread's sockets.
      else setImmediate(wake);
    };
    setImmediate(wake);
  }

  /** End the listen loop; a pending wait is released. */
  stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.generation++;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    // Release our pending waitAsync so it does not linger; the stale callback sees the new
    // generation and does nothing. Only this thread waits on this word.
    Atomics.notify(this.i32, SEQ);
  }

  /** Let the process exit while listening (like handle.unref()). */
  unref(): void {
    this.refed = false;
    this.keepAlive?.unref();
  }

  ref(): void {
    this.refed = true;
    this.keepAlive?.ref();
  }
}


// Wake-up word for one consumer thread, shared by every producer that targets it.
//
// Producers bump a sequence number and Atomics.notify once per batch. The consumer never
// blocks (Atomics.wait would stall its event loop); it parks with Atomics.waitAsync on the
// sequence value it read *before* draining. If a producer rang while the consumer was busy,
// the value has moved and waitAsync answers "not-equal" at once, so no wake-up is lost.
//
// Node does not count a pending waitAsync as keeping the event loop alive (a worker whose
// only job is listening would just exit), so listen() holds a timer handle until stop(),
// like a listening server; unref() opts out.

import { CACHE_LINE } from './layout.ts';

const SEQ = 0;
const KEEPALIVE_MS = 1 << 30;

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

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`doorbell byteOffset must be a non-negative multiple of 4, got ${byteOffset}`);
    }
    if (byteOffset + 4 > sab.byteLength) {
      throw new RangeError(`doorbell at offset ${byteOffset} is outside the buffer (${sab.byteLength} bytes)`);
    }
    this.i32 = new Int32Array(sab, byteOffset, 1);
  }

  /** Producer: call once per batch of writes, after the ring's write index is published. */
  ring(): void {
    Atomics.add(this.i32, SEQ, 1);
    Atomics.notify(this.i32, SEQ);
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
  listen(onWake: WakeHandler): void {
    if (this.listening) throw new Error('doorbell already has a listener');
    this.listening = true;
    const generation = ++this.generation;
    this.keepAlive = setInterval(noop, KEEPALIVE_MS);
    if (!this.refed) this.keepAlive.unref();

    const i32 = this.i32;
    let seen = 0;
    const wake = (): void => {
      if (generation !== this.generation) return;
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
      const res = Atomics.waitAsync(i32, SEQ, seen);
      if (res.async) res.value.then(wake);
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

function noop(): void {}

// --rate: a token bucket per sender. Bursts are capped at ~10 ms of tokens so a stall is
// not followed by a flood that would measure the broker's queue instead of its latency.
export class Pacer {
  private readonly perMs: number;
  private readonly burst: number;
  private tokens = 0;
  private last: number;

  constructor(ratePerSecond: number, now = performance.now()) {
    this.perMs = ratePerSecond / 1000;
    this.burst = Math.max(1, this.perMs * 10);
    this.tokens = Math.min(1, this.burst);
    this.last = now;
  }

  /** Takes up to `want` tokens; returns how many were granted. */
  take(want: number, now = performance.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    const n = Math.min(want, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Returns tokens taken but not used. */
  refund(n: number): void {
    this.tokens += n;
  }

  /** Milliseconds until the next token. */
  waitMs(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perMs));
  }
}

// setTimeout takes at most 2^31-1 ms (~24.8 days); session expiry and will delay can be up to
// 2^32-1 seconds. A LongTimeout chains timeouts for longer delays and keeps the one pending, so
// clearing it stops the chain wherever it is (clearing only the first stopped nothing after it
// had fired once). unref'd: timers never keep a shard alive.
const MAX = 0x7fffffff;

export class LongTimeout {
  private timer: NodeJS.Timeout;
  private readonly fn: () => void;

  constructor(fn: () => void, ms: number) {
    this.fn = fn;
    this.timer = this.arm(ms);
  }

  private arm(ms: number): NodeJS.Timeout {
    const t = ms <= MAX ? setTimeout(this.fn, ms) : setTimeout(() => { this.timer = this.arm(ms - MAX); }, MAX);
    t.unref();
    return t;
  }

  clear(): void { clearTimeout(this.timer); }
}

export function setLongTimeout(fn: () => void, ms: number): LongTimeout { return new LongTimeout(fn, ms); }

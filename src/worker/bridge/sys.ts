// A bridge's status in $SYS (Mosquitto has $SYS/broker/connection/<name>/state; these follow the
// REST fields): $SYS/broker/bridges/<name>/connected, queued, sent, received, dropped, reconnects
// and last-error, retained, every --sys-interval seconds, each only when it changed.
import type { BridgeInfo } from '../../shared/admin-query.ts';

const FIELDS = ['connected', 'queued', 'sent', 'received', 'dropped', 'reconnects', 'last-error'] as const;

export class BridgeSys {
  private readonly last = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  /** Publishes what changed now (the bridge calls it when it connects or loses the remote). */
  tick: () => void = () => {};

  /** `every` seconds (0 = off): read the status and publish what changed. */
  start(every: number, status: () => BridgeInfo, publish: (topic: string, value: string) => void): void {
    if (every <= 0) return;
    const tick = this.tick = (): void => {
      const s = status();
      for (const f of FIELDS) {
        const v = f === 'connected' ? (s.connected ? '1' : '0') : f === 'last-error' ? s.last_error : String(s[f]);
        if (this.last.get(f) === v) continue;
        this.last.set(f, v);
        publish(`$SYS/broker/bridges/${s.name}/${f}`, v);
      }
    };
    tick();
    this.timer = setInterval(tick, every * 1000);
    this.timer.unref();
  }

  stop(): void { if (this.timer !== null) clearInterval(this.timer); }
}

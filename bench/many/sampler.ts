// The run's samples, one sampler for both uses: every --sample seconds (every second when
// --plot draws them) the broker's RSS and CPU time (from /proc, when --broker-pid names it) and
// the connections held and failed, so a long run shows a trend (memory that grows, connections
// lost) rather than two end points, and --plot draws the same samples.
import { readFileSync } from 'node:fs';
import { readRss } from '../lib/sysinfo.ts';
import { nowMs } from '../lib/clock.ts';

export interface SoakSample { atS: number; rssBytes: number | null; cpuS: number | null; held: number; failed: number }

export interface SoakSummary {
  samples: SoakSample[];
  /** Over the samples after the ramp: least-squares slope of RSS, MiB per minute. */
  rssSlopeMiBPerMin: number | null;
  rssMinMiB: number | null;
  rssMaxMiB: number | null;
  /** Broker CPU over the holding phase, % of one core. */
  cpuPercent: number | null;
  heldMin: number;
  heldMax: number;
}

/** utime + stime of `pid` in seconds (USER_HZ is 100 on Linux), or null. */
export function readCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export class Sampler {
  readonly samples: SoakSample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = nowMs();
  private rampEndS: number | null = null;

  private readonly pid: number | null;
  private readonly progress: () => { connected: number; failed: number };

  constructor(pid: number | null, everyS: number, progress: () => { connected: number; failed: number }) {
    this.pid = pid;
    this.progress = progress;
    this.take();
    this.timer = setInterval(() => { this.take(); }, everyS * 1000);
    this.timer.unref();
  }

  /** One sample now (also the last one, from stop). */
  take(): void {
    const p = this.progress();
    const pid = this.pid;
    this.samples.push({
      atS: (nowMs() - this.t0) / 1000,
      rssBytes: pid === null ? null : readRss(pid),
      cpuS: pid === null ? null : readCpuSeconds(pid),
      held: p.connected,
      failed: p.failed,
    });
  }

  /** The ramp is over: the trend is computed over the samples from here on. */
  rampEnded(): void { this.rampEndS ??= (nowMs() - this.t0) / 1000; }

  stop(): SoakSummary {
    clearInterval(this.timer);
    this.take();
    const hold = this.samples.filter((s) => this.rampEndS !== null && s.atS >= this.rampEndS);
    const rss = hold.filter((s) => s.rssBytes !== null) as (SoakSample & { rssBytes: number })[];
    const mib = (b: number): number => Math.round((b / 1048576) * 10) / 10;
    let slope: number | null = null;
    if (rss.length >= 3) {
      const n = rss.length;
      const mx = rss.reduce((a, s) => a + s.atS, 0) / n;
      const my = rss.reduce((a, s) => a + s.rssBytes, 0) / n;
      const sxy = rss.reduce((a, s) => a + (s.atS - mx) * (s.rssBytes - my), 0);
      const sxx = rss.reduce((a, s) => a + (s.atS - mx) ** 2, 0);
      slope = sxx > 0 ? Math.round((sxy / sxx) * 60 / 1048576 * 100) / 100 : null;
    }
    const cpu = hold.filter((s) => s.cpuS !== null);
    const first = cpu[0];
    const last = cpu[cpu.length - 1];
    const cpuPercent = first !== undefined && last !== undefined && last.atS > first.atS
      ? Math.round(((last.cpuS! - first.cpuS!) / (last.atS - first.atS)) * 1000) / 10 : null;
    const helds = hold.map((s) => s.held);
    return {
      samples: this.samples,
      rssSlopeMiBPerMin: slope,
      rssMinMiB: rss.length > 0 ? mib(Math.min(...rss.map((s) => s.rssBytes))) : null,
      rssMaxMiB: rss.length > 0 ? mib(Math.max(...rss.map((s) => s.rssBytes))) : null,
      cpuPercent,
      heldMin: helds.length > 0 ? Math.min(...helds) : 0,
      heldMax: helds.length > 0 ? Math.max(...helds) : 0,
    };
  }
}

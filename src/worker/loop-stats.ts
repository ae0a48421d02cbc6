// Event-loop delay and utilisation of this shard, sampled into its stats row once a second so
// main can serve them on /metrics without asking the shard anything. Started only with the
// admin port on (the delay monitor is a libuv timer: cheap, but not free).
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Stat, type StatsBlock } from '../shared/stats.ts';

const SAMPLE_MS = 1000;
const RESOLUTION_MS = 10;

/**
 * The histogram holds the whole interval between the monitor's timer runs in nanoseconds; the
 * delay is what came on top of the timer's own resolution, in seconds (an idle loop reads ~0).
 */
function lateness(count: number, ns: number): number {
  return count === 0 ? 0 : Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000);
}

/** Samples every second until the thread ends (the timer is unref'd); returns a stop function. */
export function startLoopStats(stats: StatsBlock, shard: number): () => void {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    stats.set(shard, Stat.LOOP_UTILISATION, performance.eventLoopUtilization(now, last).utilization);
    last = now;
    stats.set(shard, Stat.LOOP_DELAY_P50, lateness(delay.count, delay.percentile(50)));
    stats.set(shard, Stat.LOOP_DELAY_P99, lateness(delay.count, delay.percentile(99)));
    stats.set(shard, Stat.LOOP_DELAY_MAX, lateness(delay.count, delay.max));
    delay.reset();
  }, SAMPLE_MS);
  timer.unref();
  return () => { clearInterval(timer); delay.disable(); };
}

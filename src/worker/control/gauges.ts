// Gauges the data path does not keep a running count of, sampled once a second into the shard's
// stats row (with the admin port on only, like loop-stats.ts): outbound QoS 1/2 messages in
// flight. A per-message counter would be kept at every place a window changes; one walk over
// the sessions a second costs less and cannot drift.
import { Stat, type StatsBlock } from '../../shared/stats.ts';
import type { Session } from '../session/session.ts';

const SAMPLE_MS = 1000;

export function startSessionGauges(stats: StatsBlock, shard: number, sessions: ReadonlyMap<string, Session>): () => void {
  const timer = setInterval(() => {
    let inflight = 0;
    for (const s of sessions.values()) inflight += s.inflight.size;
    stats.set(shard, Stat.INFLIGHT, inflight);
  }, SAMPLE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

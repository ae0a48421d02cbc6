// The connect phase every load tool runs the same way: all threads connect their clients,
// with a progress line on a TTY, and the results are summed.
import { addFailures } from './figures.ts';
import { nowMs } from './clock.ts';
import { startProgress } from './progress.ts';
import type { ShardPool } from './shards.ts';

/** What one thread reports after connecting its clients. */
export interface ConnectResult {
  connected: number;
  failures: Record<string, number>;
  firstFailure: { code: string; message: string } | null;
}

export interface ConnectPhase {
  connectMs: number;
  connections: number;
  failures: Record<string, number>;
  /** The first failure of any thread (the run stops before its timed phase when set). */
  firstFailure: ConnectResult['firstFailure'];
}

/** Runs the pool's 'connect' phase for `total` clients and sums what the threads report. */
export async function connectAll(pool: ShardPool, total: number): Promise<ConnectPhase> {
  const stopProgress = startProgress(() => {
    const p = pool.totalProgress();
    return `connecting: ${p.connected}/${total}${p.failed > 0 ? `, ${p.failed} failed` : ''}`;
  });
  const t0 = nowMs();
  const connected = await pool.all<ConnectResult>('connect');
  const connectMs = nowMs() - t0;
  stopProgress();
  const failures: Record<string, number> = {};
  for (const c of connected) addFailures(failures, c.failures);
  return {
    connectMs,
    connections: connected.reduce((a, c) => a + c.connected, 0),
    failures,
    firstFailure: connected.find((c) => c.firstFailure !== null)?.firstFailure ?? null,
  };
}

// The seam for REST requests that need the shards' answers (clients, subscriptions, kick,
// blacklist, publish): main asks every shard through a narrow interface, each with a deadline,
// and answers with what came back. A busy or dead shard makes the answer partial and says so,
// never a hang. The questions are src/shared/admin-query.ts; main's end of the channel is
// src/main/control/channel.ts, the shards' src/worker/control/.
import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../../shared/errors.ts';
import { sendError, sendJson } from './respond.ts';

/** How main reaches the shards (the supervisor implements it over the control channel). */
export interface ShardAsker<Q, A = unknown> {
  readonly count: number;
  isUp(shard: number): boolean;
  /** Resolves with the shard's answer; the signal aborts when the deadline passes. */
  ask(shard: number, query: Q, signal: AbortSignal): Promise<A>;
}

export type MissReason = 'down' | 'timeout' | 'error';
export interface ShardMiss { shard: number; reason: MissReason; message?: string }

export interface Gathered<A> {
  answers: { shard: number; value: A }[];
  missing: ShardMiss[];
}

export const DEFAULT_TIMEOUT_MS = 2000;

/** Asks `shards` (default: all) in parallel; resolves within `timeoutMs` whatever they do. */
export async function gather<Q, A>(asker: ShardAsker<Q, A>, query: Q, timeoutMs = DEFAULT_TIMEOUT_MS, shards?: readonly number[]): Promise<Gathered<A>> {
  const targets = shards ?? Array.from({ length: asker.count }, (_, i) => i);
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { ac.abort(); resolve('timeout'); }, timeoutMs); });
  const out: Gathered<A> = { answers: [], missing: [] };
  try {
    await Promise.all(targets.map(async (shard) => {
      if (!asker.isUp(shard)) { out.missing.push({ shard, reason: 'down' }); return; }
      try {
        // The call itself may throw synchronously; that is the shard's error, not ours.
        const r = await Promise.race([Promise.resolve().then(() => asker.ask(shard, query, ac.signal)).then((value) => ({ value })), deadline]);
        if (r === 'timeout') out.missing.push({ shard, reason: 'timeout' });
        else out.answers.push({ shard, value: r.value });
      } catch (err) {
        out.missing.push({ shard, reason: 'error', message: (err as Error).message });
      }
    }));
  } finally {
    clearTimeout(timer);
  }
  out.answers.sort((a, b) => a.shard - b.shard);
  out.missing.sort((a, b) => a.shard - b.shard);
  return out;
}

/** Headers that mark a partial answer: `X-Shoal-Partial: true` and which shards did not answer, why. */
export function partialHeaders(missing: readonly ShardMiss[]): Record<string, string> {
  if (missing.length === 0) return {};
  return { 'x-shoal-partial': 'true', 'x-shoal-missing-shards': missing.map((m) => `${m.shard}=${m.reason}`).join(',') };
}

/**
 * Sends `value` built from what answered (comqtt's bare shape), marked partial in the headers
 * when a shard did not answer; when none answered, 503 with a stable code.
 */
export function sendGathered(res: ServerResponse, g: Gathered<unknown>, value: unknown): void {
  if (g.answers.length === 0 && g.missing.length > 0) {
    sendError(res, 503, ErrorCode.HTTP_SHARDS_UNAVAILABLE, `no shard answered (${g.missing.map((m) => `${m.shard}: ${m.reason}`).join(', ')})`, partialHeaders(g.missing));
    return;
  }
  sendJson(res, 200, value, partialHeaders(g.missing));
}

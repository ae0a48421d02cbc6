// Where the scenario's clients landed, and putting them where a run wants them (issue #12).
// With `--accept shards` the kernel's SO_REUSEPORT hash picks each connection's shard, so the
// publisher, the healthy subscriber and the stalled ones share a shard or not by chance, and
// a run's cost followed that more than the build (−120% to +60% per run). The broker's admin
// API names each client's shard (GET /api/v1/mqtt/clients/{id} → `shard`); a client that
// landed on the wrong shard is closed and made again (a new source port, a new hash) until it
// lands right, so every run of a series measures one topology (with `--accept shards`; under
// `--accept main` main picks the least-loaded shard and a re-made connection may never move).
//
// A layout is one digit per client, in the order publisher, healthy…, stalled…, slow…; equal
// digits share a shard, different digits are on different shards, and digits are numbered in
// order of first appearance ("0011": publisher and healthy together, the stalled pair on the
// other shard; "0100": healthy apart, stalled with the publisher).
import { sleep } from '../lib/clock.ts';
import { ClientError } from '../lib/client.ts';

/** One client of the scenario that placement can ask about and re-make. */
export interface Slot {
  id(): string;
  /** Closes the connection and makes a new one (subscribed as before): a new roll of the hash. */
  remake(): Promise<void>;
}

export interface PlacementReport {
  /** The layout measured after placement (canonical digits); null when the broker cannot say. */
  layout: string | null;
  /** Connections re-made to reach the wanted layout. */
  remakes: number;
}

/** Attempts per client: with 2 shards the odds of 64 misses in a row are 2^-64. */
const MAX_TRIES = 64;
/** A client is listed once its CONNACK is sent; the registry may lag it by a turn or so. */
const LOOKUP_RETRIES = 20;

/** Digits renumbered by first appearance: shards [1, 1, 0] → "001". */
export function canonicalLayout(shards: readonly number[]): string {
  const seen = new Map<number, number>();
  return shards.map((s) => {
    if (!seen.has(s)) seen.set(s, seen.size);
    return String(seen.get(s));
  }).join('');
}

/** null when `layout` is a canonical layout of `n` clients, else why not. */
export function layoutProblem(layout: string, n: number): string | null {
  if (!/^\d+$/.test(layout)) return `--layout takes digits, one per client (got ${JSON.stringify(layout)})`;
  if (layout.length !== n) return `--layout needs ${n} digits (publisher, healthy, stalled, slow), got ${layout.length}`;
  if (canonicalLayout([...layout].map(Number)) !== layout) return `--layout numbers shards in order of first appearance (e.g. 0011, 0100), got ${layout}`;
  return null;
}

async function shardOf(admin: string, clientId: string, timeoutMs: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${admin}/api/v1/mqtt/clients/${encodeURIComponent(clientId)}`, { signal: AbortSignal.timeout(timeoutMs) });
    const body: unknown = await res.json().catch(() => null);
    const shard = typeof body === 'object' && body !== null ? (body as { shard?: unknown }).shard : undefined;
    if (res.ok && typeof shard === 'number') return shard;
    if (res.status !== 404 || attempt >= LOOKUP_RETRIES) {
      throw new ClientError('PLACEMENT_LOOKUP', `admin API: ${res.status} for client ${clientId}`);
    }
    await sleep(10);
  }
}

/**
 * Reads every slot's shard from `admin` and, when `want` is given, re-makes slots in order
 * until each lands as the layout says (the first slot anchors its digit and is never re-made).
 * Without an admin URL there is nothing to read: layout null.
 */
export async function place(admin: string | null, slots: readonly Slot[], want: string | null, timeoutMs: number): Promise<PlacementReport> {
  if (admin === null) return { layout: null, remakes: 0 };
  const shards = await Promise.all(slots.map((s) => shardOf(admin, s.id(), timeoutMs)));
  let remakes = 0;
  if (want !== null) {
    const shardOfDigit = new Map<string, number>();
    for (let i = 0; i < slots.length; i++) {
      const digit = want[i]!;
      for (let tries = 0; ; tries++) {
        const mapped = shardOfDigit.get(digit);
        const fits = mapped !== undefined ? shards[i] === mapped : ![...shardOfDigit.values()].includes(shards[i]!);
        if (fits) { shardOfDigit.set(digit, shards[i]!); break; }
        if (tries >= MAX_TRIES) {
          throw new ClientError('PLACEMENT_FAILED', `client ${i} of layout ${want} did not land right in ${MAX_TRIES} connections (does the broker have as many shards as the layout has digits, and accept with SO_REUSEPORT? --accept main places by load, not by hash)`);
        }
        await slots[i]!.remake();
        remakes++;
        shards[i] = await shardOf(admin, slots[i]!.id(), timeoutMs);
      }
    }
  }
  return { layout: canonicalLayout(shards), remakes };
}

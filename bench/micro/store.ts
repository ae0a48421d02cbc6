// Store write throughput: puts/s of 100-byte messages (putOutbound, the hot write) in each
// persistence mode, with 1, 100 and 1000 puts issued per event-loop turn and awaited
// together. lmdb-js commits one turn's writes as one transaction, so the per-turn count is
// the group-commit size: at 1 per turn durable mode pays a full fsync per message.
//
//   node bench/micro/store.ts [--duration-ms 1000] [--json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createStore, type OutboundEntry, type Persistence, type Store } from '../../src/shared/store/index.ts';

export interface StoreBenchRow {
  persistence: Persistence;
  perTurn: number;
  puts: number;
  seconds: number;
  putsPerSec: number;
  /** Mean time from issuing a turn's puts to all of them resolving. */
  meanTurnMs: number;
}

export interface StoreBenchOptions {
  durationMs?: number;
  modes?: Persistence[];
  perTurn?: number[];
  /** Print the table to stdout (default true). */
  print?: boolean;
}

export async function run(opts: StoreBenchOptions = {}): Promise<StoreBenchRow[]> {
  const durationMs = opts.durationMs ?? 1000;
  const rows: StoreBenchRow[] = [];
  for (const persistence of opts.modes ?? (['durable', 'fast', 'memory'] as const)) {
    for (const perTurn of opts.perTurn ?? [1, 100, 1000]) rows.push(await measure(persistence, perTurn, durationMs));
  }
  if (opts.print ?? true) process.stdout.write(formatTable(rows) + '\n');
  return rows;
}

async function measure(persistence: Persistence, perTurn: number, durationMs: number): Promise<StoreBenchRow> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-store-'));
  const store = createStore({ persistence, dataDir: dir });
  await store.open();
  const e: OutboundEntry = {
    packetId: 1,
    state: 'queued',
    msg: { topic: 'bench/store/topic', payload: Buffer.alloc(100, 0x61), qos: 1, retain: false, properties: null, expiresAt: 0 },
  };
  try {
    // Warm up: the first commits grow the map and fault pages in.
    let seq = 0;
    for (let n = 0; n < 200; n += perTurn) seq = await oneTurn(store, seq, perTurn, e);
    let puts = 0;
    let turnsDone = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < durationMs) {
      seq = await oneTurn(store, seq, perTurn, e);
      puts += perTurn;
      turnsDone++;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { persistence, perTurn, puts, seconds, putsPerSec: puts / seconds, meanTurnMs: (seconds * 1000) / turnsDone };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Issues n puts in this turn, waits for all of them, returns the next seq. */
async function oneTurn(store: Store, seq: number, n: number, e: OutboundEntry): Promise<number> {
  const batch: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) batch[i] = store.putOutbound('bench', seq + i, e);
  await Promise.all(batch);
  return seq + n;
}

export function formatTable(rows: StoreBenchRow[]): string {
  const lines = ['| persistence | puts/turn | puts/s | mean turn ms |', '|---|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.persistence} | ${r.perTurn} | ${Math.round(r.putsPerSec).toLocaleString('en-US')} | ${r.meanTurnMs.toFixed(3)} |`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--duration-ms');
  const durationMs = at >= 0 ? Number(args[at + 1]) : 1000;
  const json = args.includes('--json');
  const rows = await run({ durationMs, print: !json });
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
}

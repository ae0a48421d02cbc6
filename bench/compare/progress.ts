// One stderr line per finished run, so a long comparison shows it is alive and what each
// run gave, without disturbing the table or JSON on stdout.
import { fmtFixed, fmtInt, fmtSig } from './format.ts';
import type { RunRecord } from './types.ts';

export function progressLine(r: RunRecord, total: number, perRound: number): string {
  const index = (r.round - 1) * perRound + r.position;
  const f = r.figures;
  const figures = f ? `${fmtInt(f.rate)} msg/s, p99 ${fmtSig(f.p99)} ms, CPU ${fmtFixed(r.brokerCpuSeconds, 2)} s` : 'no figures';
  return `[${index}/${total}] round ${r.round} ${r.broker}: ${figures}${r.ok ? '' : ` — FAILED: ${r.failure ?? ''}`}`;
}

/**
 * The live line while a run goes on: on a terminal redrawn in place each tick, elsewhere (CI
 * logs) one line every `everyMs`, so a run of minutes is never silent.
 */
export function liveLine(tty: boolean, write: (s: string) => void, everyMs = 10_000): {
  tick(index: number, total: number, round: number, broker: string, elapsedMs: number, cpuSeconds: number | null, rssBytes: number | null): void;
  clear(): void;
} {
  let last = -Infinity;
  let drawn = false;
  return {
    tick(index, total, round, broker, elapsedMs, cpuSeconds, rssBytes) {
      const text = `[${index}/${total}] round ${round} ${broker}: running ${fmtFixed(elapsedMs / 1000, 0)} s, broker CPU ${fmtFixed(cpuSeconds, 1)} s, RSS ${rssBytes === null ? '?' : fmtFixed(rssBytes / 1048576, 0)} MiB`;
      if (tty) { write(`\r\x1b[K${text}`); drawn = true; return; }
      if (elapsedMs - last >= everyMs || elapsedMs < last) { write(`${text}\n`); last = elapsedMs; }
    },
    clear() { if (drawn) write('\r\x1b[K'); drawn = false; last = -Infinity; },
  };
}

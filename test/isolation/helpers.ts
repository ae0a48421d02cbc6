// What the isolation tests share: the broker's RSS, and a probe that a well-behaved client
// still gets through (a QoS 1 round trip within a deadline) while a hostile one does its worst.
import { readFileSync } from 'node:fs';
import { roundTrip } from '../helpers/clients.ts';

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

/** ms a QoS 1 round trip between two fresh clients takes; throws past `deadlineMs`. */
export async function probeMs(url: string, deadlineMs = 2000, version: 4 | 5 = 4): Promise<number> {
  const t0 = performance.now();
  await roundTrip(url, version, deadlineMs);
  return performance.now() - t0;
}

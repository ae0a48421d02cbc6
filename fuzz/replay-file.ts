// The file a failure leaves behind: the batch that was running when a check failed (which
// input of it did the harm is not known: they ran concurrently), with the seed and the
// iterations, so `npm run fuzz -- --replay FILE` can send exactly those bytes again.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromSaved, toSaved, type FuzzInput, type SavedInput } from './inputs.ts';
import type { Protocol } from './corpus.ts';

export interface ReplayFile {
  tool: 'shoal-fuzz';
  version: 1;
  seed: number;
  shards: number;
  protocol: Protocol;
  /** First and last iteration of the batch. */
  from: number;
  to: number;
  reason: string;
  stderrTail: string;
  inputs: SavedInput[];
}

export function saveReplay(dir: string, r: Omit<ReplayFile, 'tool' | 'version' | 'inputs'>, inputs: FuzzInput[]): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `fuzz-seed${r.seed}-iter${r.from}.json`);
  const body: ReplayFile = { tool: 'shoal-fuzz', version: 1, ...r, inputs: inputs.map(toSaved) };
  writeFileSync(file, `${JSON.stringify(body, null, 1)}\n`);
  return file;
}

export function loadReplay(file: string): { file: ReplayFile; inputs: FuzzInput[] } {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as ReplayFile;
  if (parsed.tool !== 'shoal-fuzz' || !Array.isArray(parsed.inputs)) throw new Error(`${file} is not a fuzz replay file`);
  return { file: parsed, inputs: parsed.inputs.map(fromSaved) };
}

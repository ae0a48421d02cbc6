// Where a comparison ran, so two tables can be told apart later.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { CompareEnv } from './types.ts';
import { repoRoot } from '../brokers/repo-root.ts';

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function compareEnv(): CompareEnv {
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    git: gitDescribe(),
    time: new Date().toISOString(),
    loadAvg1: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

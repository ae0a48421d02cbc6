// Facts about this machine and the broker process that the reports and error messages cite.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface EnvInfo {
  broker: string;
  node: string;
  cpu: string;
  cores: number;
  git: string | null;
  time: string;
}

export function envInfo(broker: string): EnvInfo {
  return {
    broker,
    node: process.version,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    git: gitRev(),
    time: new Date().toISOString(),
  };
}

function gitRev(): string | null {
  try {
    const cwd = fileURLToPath(new URL('.', import.meta.url));
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim() || null;
  } catch {
    return null;
  }
}

/** Resident set size of a process in bytes (VmRSS), or null if it cannot be read. */
export function readRss(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

// Read at start-up: when the limit is hit there is no descriptor left to read it with.
const OPEN_FILES_LIMIT = readOpenFilesLimit();
const LOCAL_PORT_RANGE = readLocalPortRange();

/** The soft open-files limit (ulimit -n) of this process, or null off Linux. */
export function openFilesLimit(): number | null {
  return OPEN_FILES_LIMIT;
}

export function localPortRange(): string | null {
  return LOCAL_PORT_RANGE;
}

function readOpenFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null || m[1] === 'unlimited' ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function readLocalPortRange(): string | null {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().replace(/\s+/, '-');
  } catch {
    return null;
  }
}

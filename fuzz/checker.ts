// After every batch: is the broker process alive, did any shard crash or log at error
// level, does a probe client (MQTT.js, one per protocol family) still get its own QoS 1
// message within the deadline, and is the broker's RSS under the bound.
import { readFileSync } from 'node:fs';
import type { Broker } from '../test/helpers/broker.ts';
import { collect, connect, publish, subscribe, uid, type Collector, type MqttClient } from '../test/helpers/clients.ts';
import type { Version } from './corpus.ts';

export interface CheckerOptions {
  probeDeadlineMs: number;
  rssLimitBytes: number;
  /** Go on after error-level log lines (they are still counted and reported). */
  allowErrorLogs: boolean;
}

interface ProbeClient {
  version: Version;
  client: MqttClient;
  topic: string;
  collector: Collector;
  closed: boolean;
}

/** pino's numeric levels: 50 error, 60 fatal. */
const ERROR_LEVEL = 50;
/** Main logs these when a shard thread dies (the process lives on: main restarts it). */
const SHARD_DIED = /shard (crashed|exited|fatal error|restart failed)/;
const MAX_KEPT = 100;

export class Checker {
  private readonly broker: Broker;
  private readonly o: CheckerOptions;
  private readonly probes: ProbeClient[] = [];
  private partial = '';
  private seq = 0;
  /** Error-level (or shard death) log lines seen since the start (the first MAX_KEPT kept). */
  readonly errorLines: string[] = [];
  errorCount = 0;
  /** Error lines by kind (message and error text), counted. */
  readonly errorKinds = new Map<string, number>();
  private reported = 0;
  private kindsTaken = 0;
  maxRssBytes = 0;

  constructor(broker: Broker, o: CheckerOptions) {
    this.broker = broker;
    this.o = o;
    broker.proc.stderr?.on('data', (d: Buffer | string) => this.onStderr(String(d)));
  }

  async start(versions: Version[]): Promise<void> {
    // One probe per family the run speaks: 3.1.1 for 3 and 4, 5 for 5.
    const families = [...new Set(versions.map((v) => (v === 5 ? 5 : 4)))] as (4 | 5)[];
    for (const version of families) {
      const client = await connect(this.broker.url, { version, clientId: uid('fuzz-probe'), keepalive: 0 });
      const topic = uid('fuzz/probe');
      const collector = collect(client, (t) => t === topic);
      await subscribe(client, topic, { qos: 1 });
      const p: ProbeClient = { version, client, topic, collector, closed: false };
      client.on('close', () => { p.closed = true; });
      this.probes.push(p);
    }
  }

  /** null when all is well, else why not (the run stops). */
  async check(): Promise<string | null> {
    const b = this.broker;
    if (!b.alive()) return `broker exited (code ${b.proc.exitCode}, signal ${b.proc.signalCode})`;
    if (this.errorCount > this.reported) {
      const fresh = this.errorLines.slice(Math.min(this.reported, this.errorLines.length));
      this.reported = this.errorCount;
      const died = fresh.find((l) => SHARD_DIED.test(l));
      if (died !== undefined) return `a shard died: ${died}`;
      if (!this.o.allowErrorLogs) return `error-level log line: ${fresh[0]}`;
    }
    for (const p of this.probes) {
      if (p.closed) return `probe client (MQTT ${p.version === 5 ? '5' : '3.1.1'}) was disconnected`;
      const payload = `probe-${++this.seq}`;
      const t0 = performance.now();
      try {
        await publish(p.client, p.topic, payload, { qos: 1 }, this.o.probeDeadlineMs);
        const left = Math.max(1, this.o.probeDeadlineMs - (performance.now() - t0));
        await p.collector.waitFor(1, left, (m) => m.payload.toString() === payload);
      } catch {
        return `probe client (MQTT ${p.version === 5 ? '5' : '3.1.1'}) did not get its QoS 1 message within ${this.o.probeDeadlineMs} ms`;
      }
      p.collector.clear();
    }
    const rss = rssBytes(b.pid);
    if (rss !== null) {
      this.maxRssBytes = Math.max(this.maxRssBytes, rss);
      if (rss > this.o.rssLimitBytes) return `broker RSS ${Math.round(rss / 2 ** 20)} MiB above the bound of ${Math.round(this.o.rssLimitBytes / 2 ** 20)} MiB`;
    }
    return null;
  }

  /** Kinds of error line first seen since the last call, each with its first full line. */
  takeNewKinds(): { kind: string; line: string }[] {
    const kinds = [...this.errorKinds.keys()];
    const fresh = kinds.slice(this.kindsTaken);
    this.kindsTaken = kinds.length;
    return fresh.map((kind) => ({ kind, line: this.errorLines.find((l) => errorKind(l) === kind) ?? kind }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.probes.map((p) => new Promise<void>((r) => p.client.end(true, {}, () => r()))));
  }

  private onStderr(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!isErrorLine(line)) continue;
      this.errorCount++;
      if (this.errorLines.length < MAX_KEPT) this.errorLines.push(line.slice(0, 2000));
      const kind = errorKind(line);
      this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
    }
  }
}

/** "msg: err.message" of a pino line, or the line itself. */
export function errorKind(line: string): string {
  try {
    const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    // Numbers vary between occurrences of one defect (offsets, ids): they do not make a kind.
    return `${j.msg ?? ''}${j.err?.message !== undefined ? `: ${j.err.message}` : ''}`.replace(/\d+/g, 'N');
  } catch {
    return line.slice(0, 200);
  }
}

/** A pino JSON line at error level or above, or a line saying a shard died. */
export function isErrorLine(line: string): boolean {
  if (SHARD_DIED.test(line)) return true;
  if (!line.startsWith('{')) return false;
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level === 'number' && level >= ERROR_LEVEL;
  } catch {
    return false;
  }
}

export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

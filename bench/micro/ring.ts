// Micro-benchmark: moving frames from one thread to another.
//
//   ring      SpscRing + Doorbell (the producer writes until full, rings once per batch of 32;
//             the consumer drains with a budget and rings a "space" doorbell back)
//   channel   the same through RingSender/RingReceiver (the producer pauses at the first spill)
//   pm-copy   MessagePort.postMessage(Uint8Array): structured clone copies the bytes
//   pm-xfer   MessagePort.postMessage(u8, [u8.buffer]): a fresh ArrayBuffer per frame, moved
//
// postMessage gets a credit window (4096 in flight, acks every 256) so the queue does not
// grow without bound, much as the ring's capacity bounds it. Every consumer reads one byte
// per frame so nothing is optimised away. Time = first send until the consumer reports the
// last frame. Each cell is the median of several fresh-worker runs.
//
//   npx node bench/micro/ring.ts [--runs N] [--capacity BYTES | --shards N]
//
// --shards N: the capacity each ring gets in a broker of N shards at the default budget
// (--ring-capacity is one shard's inbound rings together, src/shared/ring/budget.ts).

import { once } from 'node:events';
import os from 'node:os';
import { MessageChannel, type MessagePort, Worker, isMainThread, workerData } from 'node:worker_threads';
import { SpscRing } from '../../src/shared/ring/spsc.ts';
import { Doorbell } from '../../src/shared/ring/doorbell.ts';
import { RingReceiver, RingSender } from '../../src/shared/ring/channel.ts';
import { pairRingCapacity } from '../../src/shared/ring/budget.ts';

export type Method = 'ring' | 'channel' | 'pm-copy' | 'pm-xfer';

export interface RingBenchOptions {
  runs?: number;
  sizes?: number[];
  methods?: Method[];
  /**
   * Ring capacity in bytes (power of two), default 4 MiB. With 256 KiB a 4 KiB frame stream
   * is bound by doorbell wake-up latency (tens of µs per side, ~63 frames per fill) and runs
   * 3-5x slower than with 1 MiB+; small frames barely notice.
   */
  capacity?: number;
  /** Print the table to stdout (default true). */
  print?: boolean;
}

export interface RingBenchRow {
  size: number;
  method: Method;
  frames: number;
  runs: number;
  framesPerSec: number;
  mbPerSec: number;
  minFramesPerSec: number;
  maxFramesPerSec: number;
}

interface ConsumerJob {
  bench: 'ring-micro';
  method: Method;
  size: number;
  frames: number;
  capacity: number;
  sab?: SharedArrayBuffer;
  port?: MessagePort;
}

/** The broker's default --ring-capacity. Smaller rings make big frames wake-up bound (see run()). */
const DEFAULT_CAPACITY = 4 * 1024 * 1024;
const BELL_BATCH = 32;
const DRAIN_BUDGET = 1024;
const PM_WINDOW = 4096;
const PM_ACK_EVERY = 256;

/** Frames per run, chosen so one run takes a few hundred ms on a 2-core machine. */
function framesFor(method: Method, size: number): number {
  const ring = method === 'ring' || method === 'channel';
  if (size <= 64) return ring ? 3_000_000 : 300_000;
  if (size <= 256) return ring ? 2_000_000 : 300_000;
  return ring ? 300_000 : 150_000;
}

// ---------------------------------------------------------------- main thread (producer)

export async function run(options: RingBenchOptions = {}): Promise<RingBenchRow[]> {
  const runs = options.runs ?? 3;
  const sizes = options.sizes ?? [64, 256, 4096];
  const methods = options.methods ?? ['ring', 'channel', 'pm-copy', 'pm-xfer'];
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  if (options.print !== false) {
    console.log(
      `ring micro-benchmark: ${runs} runs per cell, ring capacity ${capacity / 1024} KiB, ` +
        `${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}`,
    );
  }
  // Warm the producer side's JIT (consumers are fresh workers every run, like a new shard).
  for (const method of methods) await runOnce(method, 256, framesFor(method, 256) / 10, capacity);
  // Round-robin over the cells so a burst of outside load hits every method alike.
  const rates = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    for (const size of sizes) {
      for (const method of methods) {
        const frames = framesFor(method, size);
        const seconds = await runOnce(method, size, frames, capacity);
        const key = `${size}/${method}`;
        rates.set(key, [...(rates.get(key) ?? []), frames / seconds]);
      }
    }
  }
  const rows: RingBenchRow[] = [];
  for (const size of sizes) {
    for (const method of methods) {
      const cell = rates.get(`${size}/${method}`)!.sort((a, b) => a - b);
      const median = cell[cell.length >> 1]!;
      rows.push({
        size,
        method,
        frames: framesFor(method, size),
        runs,
        framesPerSec: median,
        mbPerSec: (median * size) / 1e6,
        minFramesPerSec: cell[0]!,
        maxFramesPerSec: cell[cell.length - 1]!,
      });
    }
  }
  if (options.print !== false) console.log(formatTable(rows));
  return rows;
}

export function formatTable(rows: RingBenchRow[]): string {
  const lines = [
    '| frame | method | frames/s (median) | MB/s | range frames/s | frames × runs |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.size} B | ${r.method} | ${fmt(r.framesPerSec)} | ${r.mbPerSec.toFixed(0)} | ` +
        `${fmt(r.minFramesPerSec)}–${fmt(r.maxFramesPerSec)} | ${fmt(r.frames)} × ${r.runs} |`,
    );
  }
  return lines.join('\n');
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} k`;
  return n.toFixed(0);
}

async function runOnce(method: Method, size: number, frames: number, capacity: number): Promise<number> {
  const job: ConsumerJob = { bench: 'ring-micro', method, size, frames, capacity };
  const transfer: MessagePort[] = [];
  let sab: SharedArrayBuffer | undefined;
  let port: MessagePort | undefined;
  if (method === 'ring' || method === 'channel') {
    sab = new SharedArrayBuffer(SpscRing.byteLength(capacity) + 2 * Doorbell.byteLength);
    job.sab = sab;
  } else {
    const channel = new MessageChannel();
    port = channel.port1;
    job.port = channel.port2;
    transfer.push(channel.port2);
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: job, transferList: transfer });
  await once(worker, 'message'); // consumer ready
  const done = once(worker, 'message');
  const started = performance.now();
  if (sab !== undefined) produceRing(method === 'channel', sab, capacity, size, frames);
  else producePort(method === 'pm-xfer', port!, size, frames);
  await done;
  const seconds = (performance.now() - started) / 1000;
  port?.close();
  await worker.terminate();
  return seconds;
}

function layout(sab: SharedArrayBuffer, capacity: number): { ring: SpscRing; dataBell: Doorbell; spaceBell: Doorbell } {
  const ringBytes = SpscRing.byteLength(capacity);
  return {
    ring: new SpscRing(sab, 0, capacity),
    dataBell: new Doorbell(sab, ringBytes),
    spaceBell: new Doorbell(sab, ringBytes + Doorbell.byteLength),
  };
}

function makeFrame(size: number): Uint8Array {
  const frame = new Uint8Array(size);
  for (let i = 0; i < size; i++) frame[i] = i & 0xff;
  frame[0] = 1;
  return frame;
}

function produceRing(viaChannel: boolean, sab: SharedArrayBuffer, capacity: number, size: number, frames: number): void {
  const { ring, dataBell, spaceBell } = layout(sab, capacity);
  const frame = makeFrame(size);
  const sender = new RingSender(ring, { doorbell: dataBell });
  let sent = 0;
  const pumpRing = (): void => {
    let batch = 0;
    while (sent < frames && ring.write(frame, 0, size)) {
      sent++;
      if (++batch === BELL_BATCH) {
        dataBell.ring();
        batch = 0;
      }
    }
    dataBell.ring();
    if (sent === frames) spaceBell.stop();
  };
  const pumpChannel = (): void => {
    sender.flush();
    let batch = 0;
    // A well-behaved owner pauses its source once frames start to spill; one spilled frame
    // per ring-full is the channel's cost over the raw ring in this loop.
    while (sent < frames && sender.pending === 0) {
      sender.send(frame, 0, size);
      sent++;
      if (++batch === BELL_BATCH) {
        sender.commit();
        batch = 0;
      }
    }
    sender.commit();
    if (sent === frames && sender.pending === 0) spaceBell.stop();
  };
  // Runs until the ring is full, then again each time the consumer says it freed space.
  spaceBell.listen(viaChannel ? pumpChannel : pumpRing);
}

function producePort(transfer: boolean, port: MessagePort, size: number, frames: number): void {
  const frame = makeFrame(size);
  let sent = 0;
  let acked = 0;
  const pump = (): void => {
    while (sent < frames && sent - acked < PM_WINDOW) {
      if (transfer) {
        const copy = new Uint8Array(size);
        copy.set(frame);
        port.postMessage(copy, [copy.buffer]);
      } else {
        port.postMessage(frame);
      }
      sent++;
    }
  };
  port.on('message', (n: number) => {
    acked = n;
    pump();
  });
  pump();
}

// ---------------------------------------------------------------- worker (consumer)

function consume(job: ConsumerJob, post: (m: unknown) => void): void {
  let received = 0;
  let checksum = 0;
  const finish = (): void => post({ received, checksum });
  if (job.sab !== undefined) {
    const { ring, dataBell, spaceBell } = layout(job.sab, job.capacity);
    const receiver = new RingReceiver(ring);
    const onFrame = (buf: Uint8Array, offset: number): void => {
      checksum += buf[offset]!;
      received++;
    };
    const viaChannel = job.method === 'channel';
    dataBell.listen(() => {
      const n = viaChannel ? receiver.drain(DRAIN_BUDGET, onFrame) : ring.drain(DRAIN_BUDGET, onFrame);
      if (n > 0) spaceBell.ring();
      if (received === job.frames) {
        dataBell.stop();
        finish();
        return false;
      }
      return n === DRAIN_BUDGET;
    });
  } else {
    const port = job.port!;
    port.on('message', (data: Uint8Array) => {
      checksum += data[0]!;
      received++;
      if (received % PM_ACK_EVERY === 0) port.postMessage(received);
      if (received === job.frames) finish();
    });
  }
  post('ready');
}

if (!isMainThread && (workerData as ConsumerJob | undefined)?.bench === 'ring-micro') {
  const { parentPort } = await import('node:worker_threads');
  consume(workerData as ConsumerJob, (m) => parentPort!.postMessage(m));
} else if (isMainThread && import.meta.main) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const started = performance.now();
  const shards = arg('--shards');
  await run({ runs: arg('--runs'), capacity: arg('--capacity') ?? (shards === undefined ? undefined : pairRingCapacity(DEFAULT_CAPACITY, shards)) });
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

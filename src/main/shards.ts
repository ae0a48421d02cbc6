import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../shared/config.ts';
import { ErrorCode, ShoalError } from '../shared/errors.ts';
import { Doorbell, pairRingBytes, pairRingCapacity } from '../shared/ring/index.ts';
import { Stat, type StatsBlock } from '../shared/stats.ts';
import type { ControlFromShard, ControlToShard, PeerRings, ShardInit, ShardListener } from '../shared/control.ts';
import { moduleUrl } from '../shared/module-url.ts';
import type { SecurityFiles } from '../shared/auth/files.ts';

const WORKER_URL = moduleUrl('../worker/index.ts', import.meta.url);

const SHARD_YOUNG_GEN_MB = 2;

/**
 * Starts the shards, allocates their rings, hands sockets to the least-loaded one, and
 * restarts a shard that dies (with fresh rings; its peers are told to forget it).
 */
export class ShardSupervisor {
  private config: BrokerConfig;            // its bridges as last reloaded (reload.ts)
  private listeners: ShardListener[];
  /**
   * The security files' texts a shard starts from: read by main at start, replaced by SIGHUP
   * (reloaded), so a restarted shard holds the generation its siblings hold (auth/files.ts).
   */
  security: SecurityFiles = { passwordText: null, aclText: null };
  private readonly stats: StatsBlock;
  private readonly log: Logger;
  private readonly workers: (Worker | null)[];
  private readonly alive: boolean[];
  private readonly restarts: number[];
  readonly bellSab: SharedArrayBuffer;
  /** ring[i][j]: the ring shard i writes and shard j reads. */
  private readonly ring: (SharedArrayBuffer | null)[][];
  /** Bytes of each ring: --ring-capacity is one shard's inbound budget, split over its n−1 peers. */
  readonly ringCapacity: number;
  private stopping = false;
  /** --accept shards: where the shards listen (a restarted shard listens there again). */
  private listenOn: { host: string; port: number; failed: (code: string) => Error } | null = null;
  private readonly listenReplies: (((code: string | null) => void) | null)[];
  private readonly isAlive = (i: number): boolean => this.alive[i]!;
  /** Answers to the admin port's questions (src/main/control); null when the shard exited. */
  private answers: (shard: number, a: Extract<ControlFromShard, { type: 'answer' }> | null) => void = () => {};
  /** Messages from shards that the supervisor does not handle itself (the embedding API's answers). */
  onMessage: ((shard: number, m: ControlFromShard) => void) | null = null;
  /** A shard thread exited (code); `restarting` unless the broker is stopping. */
  onShardExit: ((shard: number, code: number, restarting: boolean) => void) | null = null;
  /** A restarted shard is ready again. */
  onShardRestarted: ((shard: number) => void) | null = null;

  constructor(config: BrokerConfig, stats: StatsBlock, log: Logger, listeners: ShardListener[]) {
    this.config = config;
    this.listeners = listeners;
    this.stats = stats;
    this.log = log;
    const n = config.shards;
    this.workers = new Array(n).fill(null);
    this.alive = new Array(n).fill(false);
    this.restarts = new Array(n).fill(0);
    this.listenReplies = new Array(n).fill(null);
    this.bellSab = new SharedArrayBuffer(n * Doorbell.byteLength);
    this.ringCapacity = pairRingCapacity(config.ringCapacity, n);
    this.ring = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? null : this.newRing())));
  }

  get count(): number { return this.config.shards; }
  /** Bridges configured now (at start, or as the last SIGHUP left them). */
  get bridgeCount(): number { return this.config.bridges.length; }

  /** Shard i is running (false while it starts or restarts). */
  isUp(i: number): boolean { return this.alive[i]!; }

  /** The ring shard `from` writes and `to` reads (null when from === to); a restart replaces it. */
  ringBuffer(from: number, to: number): SharedArrayBuffer | null { return this.ring[from]![to]!; }

  /** A pair's buffer: its data ring, then its control ring (shared/ring/pair.ts). */
  private newRing(): SharedArrayBuffer { return new SharedArrayBuffer(pairRingBytes(this.ringCapacity)); }

  private ringsOf(i: number): (PeerRings | null)[] {
    return this.ring[i]!.map((out, j) => (out === null ? null : { out, in: this.ring[j]![i]! }));
  }

  /** Resolves when every shard is ready; rejects with the first shard's fatal error. */
  async start(): Promise<void> {
    await Promise.all(this.workers.map((_, i) => this.spawn(i, false)));
  }

  private spawn(i: number, restart: boolean): Promise<void> {
    const init: ShardInit = {
      id: i, count: this.count, config: this.config, statsSab: this.stats.sab, bellSab: this.bellSab,
      rings: this.ringsOf(i), restart, listeners: this.listeners, security: this.security,
    };
    // A small young generation: a shard allocates short-lived objects per message, and V8
    // otherwise grows each shard's semi-spaces to 16+ MiB under a flood (RSS that is only
    // garbage). 8 -> 4 -> 2 MiB each measured the same rate and CPU per message in loadtest
    // within the noise and less RSS per shard, idle and under load: ~3, then ~1.7 MiB
    // (BENCHMARKS.md, "Footprint"); 1 MiB saved ~0.8 MiB more and was not taken.
    const w = new Worker(WORKER_URL, { workerData: init, name: `shoal-shard-${i}`, resourceLimits: { maxYoungGenerationSizeMb: SHARD_YOUNG_GEN_MB } });
    this.workers[i] = w;
    return new Promise((resolve, reject) => {
      let ready = false;
      w.on('message', (m: ControlFromShard) => {
        if (m.type === 'ready') {
          ready = true;
          this.alive[i] = true;
          resolve();
          if (restart) this.onShardRestarted?.(i);
          // a SIGHUP while it started passed it by (post skips shards not up): send what it missed
          if (init.security !== this.security || init.listeners !== this.listeners || init.config !== this.config) {
            this.post(i, { type: 'reload', ...this.security, listeners: init.listeners !== this.listeners ? this.listeners : null, bridges: init.config !== this.config ? this.config.bridges : null });
          }
          if (restart && this.listenOn !== null) this.listenShard(i).catch((err: unknown) => this.log.error({ err, shard: i }, 'restarted shard cannot listen'));
        } else if (m.type === 'listening' || m.type === 'listen-failed') {
          const reply = this.listenReplies[i];
          this.listenReplies[i] = null;
          reply?.(m.type === 'listening' ? null : m.code);
        }
        else if (m.type === 'answer') this.answers(i, m);
        else if (m.type === 'fatal') {
          const err = new ShoalError(m.code, m.message);
          if (!ready) reject(err); else this.log.error({ err, shard: i }, 'shard fatal error');
        } else this.onMessage?.(i, m);
      });
      w.on('error', (err: Error) => {
        this.log.error({ err, shard: i }, 'shard crashed');
        if (!ready && !restart) reject(new ShoalError(ErrorCode.SHARD_START_FAILED, `shard ${i} failed to start: ${err.message}`, { cause: err }));
      });
      w.on('exit', (code) => this.onExit(i, w, code, ready || restart));
    });
  }

  private onExit(i: number, w: Worker, code: number, restartable: boolean): void {
    if (this.workers[i] !== w) return;
    this.alive[i] = false;
    this.workers[i] = null;
    this.answers(i, null);
    this.onShardExit?.(i, code, !this.stopping && restartable);
    if (this.stopping || !restartable) return;
    this.log.warn({ shard: i, code }, 'shard exited; restarting it');
    // Its connections died with it; the connection gauge starts again from zero.
    this.stats.resetLive(i);
    this.stats.set(i, Stat.CLIENTS_CONNECTED, 0);
    for (let j = 0; j < this.count; j++) {
      if (j === i) continue;
      this.ring[i]![j] = this.newRing();
      this.ring[j]![i] = this.newRing();
    }
    for (let j = 0; j < this.count; j++) {
      if (j === i) continue;
      this.post(j, { type: 'peer-restarted', peer: i, rings: { out: this.ring[j]![i]!, in: this.ring[i]![j]! } });
    }
    const attempt = ++this.restarts[i]!;
    const delay = Math.min(5000, 50 * 2 ** Math.min(attempt - 1, 7));
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(i, true).then(() => { this.log.info({ shard: i }, 'shard restarted'); }, (err: unknown) => this.log.error({ err, shard: i }, 'shard restart failed'));
    }, attempt === 1 ? 0 : delay).unref();
    // A shard that stays up a minute has recovered: reset its backoff.
    setTimeout(() => { if (this.alive[i]) this.restarts[i] = 0; }, 60_000).unref();
  }

  /** --accept shards: every shard listens on host:port (SO_REUSEPORT); rejects if one cannot. */
  async listenAll(host: string, port: number, failed: (code: string) => Error): Promise<void> {
    this.listenOn = { host, port, failed };
    await Promise.all(this.workers.map((_, i) => this.listenShard(i)));
  }

  /** The shards stop accepting (main's listeners are closing). */
  unlistenAll(): void {
    this.listenOn = null;
    this.broadcast({ type: 'unlisten' });
  }

  private listenShard(i: number): Promise<void> {
    const { host, port, failed } = this.listenOn!;
    return new Promise((resolve, reject) => {
      this.listenReplies[i] = (code) => (code === null ? resolve() : reject(failed(code)));
      this.post(i, { type: 'listen', host, port });
    });
  }

  /** Moves a freshly accepted (paused, unread) socket to the least-loaded live shard, tagged with its listener. */
  transfer(socket: Socket, listener: number): void {
    const i = this.stats.leastLoaded(this.isAlive);
    const w = i < 0 ? null : this.workers[i];
    if (w === null || w === undefined) { socket.destroy(); return; }
    this.stats.addLive(i, 1);
    try {
      // Node 26 moves the socket's handle to the worker thread (the socket must be unread), also
      // from inside a message object.
      w.postMessage({ type: 'socket', socket, transport: this.listeners[listener]!.transport, listener } satisfies ControlToShard, [socket as never]);
    } catch (err) {
      this.stats.addLive(i, -1);
      this.log.error({ err }, 'socket transfer failed');
      socket.destroy();
    }
  }

  onAnswer(listener: (shard: number, a: Extract<ControlFromShard, { type: 'answer' }> | null) => void): void { this.answers = listener; }

  post(i: number, msg: ControlToShard): void {
    if (this.alive[i]) this.workers[i]?.postMessage(msg);
  }

  broadcast(msg: ControlToShard): void { for (let i = 0; i < this.count; i++) this.post(i, msg); }

  /** A SIGHUP's files: kept for shards that start later, then sent to those up (null: unchanged). */
  reload(msg: ControlToShard & { type: 'reload' }): void {
    this.security = { passwordText: msg.passwordText ?? this.security.passwordText, aclText: msg.aclText ?? this.security.aclText };
    if (msg.listeners !== null) this.listeners = msg.listeners;
    if (msg.bridges !== null) this.config = { ...this.config, bridges: msg.bridges };
    this.broadcast(msg);
  }

  /** Asks every shard to stop (DISCONNECT 0x8B to v5 clients, flush, close the store). */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    const waits = this.workers.map((w) => {
      if (w === null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(() => { void w.terminate(); resolve(); }, timeoutMs);
        w.on('message', (m: ControlFromShard) => { if (m.type === 'stopped') { clearTimeout(t); void w.terminate().then(() => resolve()); } });
        w.on('exit', () => { clearTimeout(t); resolve(); });
        w.postMessage({ type: 'shutdown' } satisfies ControlToShard);
      });
    });
    await Promise.all(waits);
  }
}

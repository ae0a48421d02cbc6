// The limits checked per client rather than per packet: sockets per address and new sockets
// per second per address (both across shards, through the stats block's address table), and
// PUBLISH messages / bytes per second per client (that client's reads pause until the next
// second: backpressure, nothing dropped, as EMQX's limiter does). Each is off at 0, and then
// costs nothing: the address is not even looked up (getpeername is a syscall).
import type { ShardContext } from '../context.ts';
import type { ClientSocket } from '../net/client-socket.ts';
import { Stat } from '../../shared/stats.ts';

/**
 * What the publish limiter needs of a connection (net/connection.ts): deferring its packets
 * stops reading and keeps, in order, what is already read (the rest of a chunk), exactly as
 * while a CONNECT waits for its session.
 */
export interface Pausable {
  deferPackets(): void;
  resumePackets(): void;
  readonly clientId: string;
}

interface Window { sec: number; msgs: number; bytes: number; paused: boolean }

/** admit()'s answer for a socket to close at once. */
export const REFUSED = -2;

/** Log a limit at most once per this many ms per limit, so a flood does not flood the log. */
const LOG_EVERY_MS = 5000;

export class ConnectLimits {
  private readonly ctx: ShardContext;
  private readonly perIp: number;
  private readonly rate: number;
  readonly publishLimited: boolean;
  private readonly slots = new WeakMap<object, number>();
  private readonly windows = new WeakMap<Pausable, Window>();
  private readonly lastLog = new Map<string, number>();

  constructor(ctx: ShardContext) {
    this.ctx = ctx;
    this.perIp = ctx.config.maxConnectionsPerIp;
    this.rate = ctx.config.connectRate;
    this.publishLimited = ctx.config.maxPublishRate > 0 || ctx.config.maxPublishBytes > 0;
  }

  /**
   * A new socket: REFUSED when its address is past --connect-rate or --max-connections-per-ip
   * (close it at once), else the address's table entry to hand to opened() (or -1).
   */
  admit(socket: ClientSocket): number {
    if (this.perIp === 0 && this.rate === 0) return -1;
    const addr = socket.remoteAddress ?? '';
    const table = this.ctx.stats.addresses;
    const slot = table.slot(addr);
    if (slot < 0) return -1;
    if (this.rate > 0 && table.opened(slot, Math.floor(Date.now() / 1000)) > this.rate) {
      this.hit(Stat.LIMIT_CONNECT_RATE, 'connect-rate', { remote: addr, limit: this.rate }, 'connection refused: --connect-rate reached for this address');
      return REFUSED;
    }
    if (this.perIp === 0) return -1;
    if (table.addLive(slot, 1) > this.perIp) {
      table.addLive(slot, -1);
      this.hit(Stat.LIMIT_CONNECTIONS_PER_IP, 'connections-per-ip', { remote: addr, limit: this.perIp }, 'connection refused: --max-connections-per-ip reached for this address');
      return REFUSED;
    }
    return slot;
  }

  /** The connection made of an admitted socket, with admit()'s answer: its place is given back at close. */
  opened(conn: object, slot: number): void { if (slot >= 0) this.slots.set(conn, slot); }

  /** A connection closed. */
  closed(conn: object): void {
    if (this.perIp === 0) return;
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    this.slots.delete(conn);
    this.ctx.stats.addresses.addLive(slot, -1);
  }

  /**
   * A PUBLISH of `bytes` from `conn` (only called when publishLimited): past this second's
   * allowance the packets after it wait, and its socket is not read, until the next second.
   */
  published(conn: Pausable, bytes: number): void {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    let w = this.windows.get(conn);
    if (w === undefined) { w = { sec, msgs: 0, bytes: 0, paused: false }; this.windows.set(conn, w); }
    if (w.sec !== sec) { w.sec = sec; w.msgs = 0; w.bytes = 0; }
    w.msgs++;
    w.bytes += bytes;
    const cfg = this.ctx.config;
    if (w.paused || !((cfg.maxPublishRate > 0 && w.msgs >= cfg.maxPublishRate) || (cfg.maxPublishBytes > 0 && w.bytes >= cfg.maxPublishBytes))) return;
    w.paused = true;
    conn.deferPackets();
    this.hit(Stat.LIMIT_PUBLISH_RATE, 'publish-rate', { client: conn.clientId, messages: w.msgs, bytes: w.bytes }, 'client paused: --max-publish-rate / --max-publish-bytes reached this second');
    setTimeout(() => { w.paused = false; conn.resumePackets(); }, (sec + 1) * 1000 - now).unref();
  }

  /** Counts a limit's hit and logs it at info, at most once per LOG_EVERY_MS per limit. */
  hit(stat: number, name: string, fields: Record<string, unknown>, msg: string): void {
    const ctx = this.ctx;
    ctx.stats.add(ctx.id, stat, 1);
    const now = Date.now();
    if (now - (this.lastLog.get(name) ?? 0) < LOG_EVERY_MS) return;
    this.lastLog.set(name, now);
    ctx.log.info({ ...fields, counter: name }, msg);
  }
}

// The lean MQTT client the tools drive brokers with: one raw socket, a framer, pre-encoded
// packets, acks batched into one write per received chunk. No MQTT.js per connection.
import net from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import { Framer } from '../../src/shared/protocol/framer.ts';
import { Dumper } from './dump.ts';
import {
  CONNACK, DISCONNECT, DISCONNECT_BYTES, PINGREQ_BYTES, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL,
  SUBACK, encodeConnect, encodeSubscribe, readVarint, writeAck,
  type ProtocolLevel, type PublishTemplate, type QoS,
} from './packets.ts';
import { nowMs } from './clock.ts';

export interface ClientOptions {
  host: string;
  port: number;
  localAddress?: string;
  clientId: string;
  level: ProtocolLevel;
  keepalive: number;
  username?: string;
  password?: string;
  timeoutMs: number;
  /** Label for --dump output; dumping is off when undefined. */
  dumpLabel?: string;
  /** Connect with a persistent session (clean session 0 / session expiry). */
  persistent?: boolean;
}

/** Called for every PUBLISH delivered to this client; the bytes are only valid during the call. */
export type MessageHandler = (buf: Buffer, payloadOffset: number, payloadLength: number) => void;

/** A connect or subscribe failure with a stable code: an errno (EMFILE...), CONNACK_<rc>, SUBACK_FAILED, ETIMEDOUT. */
export class ClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const MAX_PACKET = 268_435_455;
const EMPTY = Buffer.alloc(0);
const BATCH_BYTES = 16 * 1024;

export class LeanClient {
  readonly options: ClientOptions;
  onMessage: MessageHandler | null = null;
  /** Set to time publish→PUBACK (QoS 1) / publish→PUBREC (QoS 2) of this client's publishes, in ms. */
  onAck: ((ms: number) => void) | null = null;
  /** Called once when the connection ends after CONNACK, however it ends. */
  onClose: (() => void) | null = null;
  connected = false;
  closed = false;
  closeReason = '';
  /** Publishes whose PUBACK/PUBCOMP has not come back yet. */
  inflight = 0;
  /** Most QoS>0 publishes in flight: the broker's receive maximum (v5) or 65535. */
  window = 65535;
  /** Acks with a failure reason code (v5), counted not fatal. */
  rejected = 0;
  lastWriteMs = 0;
  /** When the chunk being parsed was read (shared clock): every message in it arrived then. */
  chunkTimeMs = 0;

  private socket: net.Socket | null = null;
  private readonly framer: Framer;
  private readonly dumper: Dumper | null;
  // Allocated on the first QoS>0 publish: 100k idle clients must not cost 64 KiB each.
  private ids: Uint8Array | null = null;
  private sentAt: Float64Array | null = null;
  private stampMs = 0;
  private nextId = 1;
  private acks: Buffer = EMPTY;
  private acksLen = 0;
  private needDrain = false;
  private waiter: (() => void) | null = null;
  private connackWaiter: ((rc: number, receiveMaximum: number) => void) | null = null;
  private subackWaiter: ((codes: number[]) => void) | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;

  constructor(options: ClientOptions) {
    this.options = options;
    this.framer = new Framer(MAX_PACKET, (b, o, l) => this.onPacket(b, o, l), (code) => this.destroy(code));
    this.dumper = options.dumpLabel !== undefined ? new Dumper(options.dumpLabel, options.level) : null;
  }

  /** TCP connect, CONNECT, wait for CONNACK 0; rejects with a ClientError. */
  connect(): Promise<void> {
    const o = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (code: string, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.destroy(code);
        reject(new ClientError(code, message));
      };
      const timer = setTimeout(() => fail('ETIMEDOUT', `no CONNACK within ${o.timeoutMs / 1000} s`), o.timeoutMs);
      let socket: net.Socket;
      try {
        socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress, noDelay: true });
      } catch (err) {
        fail(errorCode(err), errorMessage(err));
        return;
      }
      this.socket = socket;
      socket.on('error', (err) => {
        if (!settled) fail(errorCode(err), errorMessage(err));
        else this.closeReason ||= errorCode(err);
      });
      socket.on('close', () => {
        if (!settled) fail('ECONNRESET', 'connection closed before CONNACK');
        this.handleClose();
      });
      socket.on('data', (chunk: Buffer) => {
        this.chunkTimeMs = nowMs();
        try {
          this.framer.push(chunk);
        } catch {
          // A packet whose fields run past its end (readUInt16BE throws): a broker bug to
          // report as this connection closing, not a crash of the whole tool.
          this.destroy('MALFORMED');
          return;
        }
        this.flushAcks();
      });
      socket.once('connect', () => {
        this.send(encodeConnect({
          clientId: o.clientId, level: o.level, keepalive: o.keepalive, username: o.username, password: o.password,
          persistent: o.persistent,
        }));
      });
      this.connackWaiter = (rc, receiveMaximum) => {
        if (rc !== 0) return fail(`CONNACK_${rc}`, `broker refused the connection (CONNACK code ${rc})`);
        settled = true;
        clearTimeout(timer);
        this.connected = true;
        this.window = Math.min(65535, receiveMaximum);
        if (o.keepalive > 0) this.startKeepalive(o.keepalive);
        resolve();
      };
    });
  }

  /** SUBSCRIBE and wait for SUBACK; rejects if any filter is refused or on timeout. */
  subscribe(topics: string[], qos: QoS): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.subackWaiter = null;
        reject(new ClientError('ETIMEDOUT', `no SUBACK within ${this.options.timeoutMs / 1000} s`));
      }, this.options.timeoutMs);
      this.subackWaiter = (codes) => {
        clearTimeout(timer);
        if (codes.some((c) => c >= 0x80)) reject(new ClientError('SUBACK_FAILED', `broker refused the subscription (${codes.join(',')})`));
        else resolve(codes);
      };
      this.send(encodeSubscribe(1, topics, qos, this.options.level));
    });
  }

  /**
   * Writes up to `count` publishes (sequence numbers seq, seq+1, ...) as one socket write.
   * Returns how many went out: fewer when the QoS window is full; 0 when closed.
   */
  publishBatch(tpl: PublishTemplate, seq: number, count: number): number {
    if (this.closed || this.socket === null) return 0;
    const size = tpl.bytes.length;
    let n = Math.max(1, Math.min(count, Math.floor(BATCH_BYTES / size)));
    if (tpl.qos > 0) n = Math.min(n, this.window - this.inflight);
    if (n <= 0) return 0;
    const out = Buffer.allocUnsafe(n * size);
    const t = nowMs();
    this.stampMs = t;
    let off = 0;
    for (let i = 0; i < n; i++) off = tpl.writeInto(out, off, seq + i, t, tpl.qos > 0 ? this.takeId() : 0);
    this.send(out);
    return n;
  }

  /**
   * One publish with a given sequence number and send time (pingtest echoes the request's);
   * `publisherId` overrides the template's when one template serves many clients.
   */
  publishOne(tpl: PublishTemplate, seq: number, timeMs: number, publisherId = -1): boolean {
    if (this.closed || this.socket === null) return false;
    if (tpl.qos > 0 && this.inflight >= this.window) return false;
    const out = Buffer.allocUnsafe(tpl.bytes.length);
    if (this.onAck !== null) this.stampMs = nowMs();
    tpl.writeInto(out, 0, seq, timeMs, tpl.qos > 0 ? this.takeId() : 0, publisherId);
    this.send(out);
    return true;
  }

  /** True when the caller should await writable() before publishing more. */
  get blocked(): boolean {
    return this.needDrain || this.inflight >= this.window;
  }

  /** Resolves when the socket drained and the window has room, or the connection closed, or after timeoutMs (false). */
  writable(timeoutMs: number): Promise<boolean> {
    if (!this.blocked || this.closed) return Promise.resolve(!this.closed);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.waiter = null; resolve(false); }, timeoutMs);
      this.waiter = () => {
        if (this.blocked && !this.closed) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve(!this.closed);
      };
    });
  }

  /** Sends DISCONNECT, ends the socket, resolves when closed (or destroys after timeoutMs). */
  disconnect(timeoutMs: number): Promise<void> {
    const socket = this.socket;
    if (socket === null || this.closed) return Promise.resolve();
    this.stopKeepalive();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { socket.destroy(); resolve(); }, timeoutMs);
      socket.once('close', () => { clearTimeout(timer); resolve(); });
      this.closeReason = 'DISCONNECT';
      this.send(DISCONNECT_BYTES);
      socket.end();
    });
  }

  destroy(reason = 'DESTROYED'): void {
    this.closeReason ||= reason;
    this.socket?.destroy();
    if (this.socket === null) this.handleClose();
  }

  private send(buf: Buffer): void {
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    this.lastWriteMs = performance.now();
    if (this.dumper !== null) this.dumper.sent(buf);
    if (!socket.write(buf) && !this.needDrain) {
      this.needDrain = true;
      socket.once('drain', () => {
        this.needDrain = false;
        this.waiter?.();
      });
    }
  }

  private takeId(): number {
    const ids = (this.ids ??= new Uint8Array(65536));
    let id = this.nextId;
    while (ids[id] !== 0) id = id === 65535 ? 1 : id + 1;
    ids[id] = 1;
    if (this.onAck !== null) (this.sentAt ??= new Float64Array(65536))[id] = this.stampMs;
    this.inflight++;
    this.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  private timeAck(id: number): void {
    if (this.onAck === null || this.sentAt === null || this.ids === null || this.ids[id] === 0) return;
    this.onAck(this.chunkTimeMs - this.sentAt[id]!);
  }

  private freeId(id: number): void {
    if (this.ids === null || this.ids[id] === 0) return;
    this.ids[id] = 0;
    this.inflight--;
    this.waiter?.();
  }

  private queueAck(type: number, id: number): void {
    if (this.acksLen + 4 > this.acks.length) {
      const next = Buffer.allocUnsafe(Math.max(256, this.acks.length * 2));
      this.acks.copy(next, 0, 0, this.acksLen);
      this.acks = next;
    }
    this.acksLen = writeAck(this.acks, this.acksLen, type, id);
  }

  private flushAcks(): void {
    if (this.acksLen === 0) return;
    // Copy out: the socket keeps the buffer until written, and ours is reused.
    const out = Buffer.from(this.acks.subarray(0, this.acksLen));
    this.acksLen = 0;
    this.send(out);
  }

  private onPacket(buf: Buffer, off: number, len: number): void {
    if (this.dumper !== null) this.dumper.received(buf, off, len);
    const type = buf[off] >> 4;
    const [remaining, lenBytes] = readVarint(buf, off + 1);
    const body = off + 1 + lenBytes;
    if (type === PUBLISH) {
      const qos = (buf[off] >> 1) & 3;
      let p = body + 2 + buf.readUInt16BE(body);
      let id = 0;
      if (qos > 0) { id = buf.readUInt16BE(p); p += 2; }
      if (this.options.level === 5) {
        const [propLen, used] = readVarint(buf, p);
        p += used + propLen;
      }
      if (qos === 1) this.queueAck(PUBACK, id);
      else if (qos === 2) this.queueAck(PUBREC, id);
      this.onMessage?.(buf, p, off + len - p);
      return;
    }
    switch (type) {
      case PUBACK:
      case PUBCOMP:
        if (type === PUBACK) this.timeAck(buf.readUInt16BE(body));
        if (remaining > 2 && buf[body + 2] >= 0x80) this.rejected++;
        this.freeId(buf.readUInt16BE(body));
        return;
      case PUBREC: {
        const id = buf.readUInt16BE(body);
        this.timeAck(id);
        if (remaining > 2 && buf[body + 2] >= 0x80) { this.rejected++; this.freeId(id); } else this.queueAck(PUBREL, id);
        return;
      }
      case PUBREL:
        this.queueAck(PUBCOMP, buf.readUInt16BE(body));
        return;
      case CONNACK:
        this.onConnack(buf, off, len, body);
        return;
      case SUBACK:
        this.onSuback(buf, body, off + len);
        return;
      case PINGRESP:
        return;
      case DISCONNECT:
        this.closeReason = `DISCONNECT_${remaining > 0 ? buf[body] : 0}`;
        return;
    }
  }

  private onConnack(buf: Buffer, off: number, len: number, body: number): void {
    const waiter = this.connackWaiter;
    this.connackWaiter = null;
    if (waiter === null) return;
    const rc = buf[body + 1];
    let receiveMaximum = 65535;
    if (this.options.level === 5 && rc === 0) {
      const packet = parseOne(Buffer.from(buf.subarray(off, off + len)), 5);
      if (packet !== null && packet.cmd === 'connack') receiveMaximum = packet.properties?.receiveMaximum ?? 65535;
    }
    waiter(rc, receiveMaximum);
  }

  private onSuback(buf: Buffer, body: number, end: number): void {
    const waiter = this.subackWaiter;
    this.subackWaiter = null;
    if (waiter === null) return;
    let p = body + 2;
    if (this.options.level === 5) {
      const [propLen, used] = readVarint(buf, p);
      p += used + propLen;
    }
    waiter([...buf.subarray(p, end)]);
  }

  private startKeepalive(seconds: number): void {
    // Ping when idle for half the keepalive: the broker allows 1.5× before it drops us.
    const halfMs = seconds * 500;
    this.keepaliveTimer = setInterval(() => {
      if (performance.now() - this.lastWriteMs >= halfMs) this.send(PINGREQ_BYTES);
    }, halfMs);
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  private handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepalive();
    const wasConnected = this.connected;
    this.connected = false;
    this.waiter?.();
    if (wasConnected) this.onClose?.();
  }
}

function parseOne(bytes: Buffer, level: ProtocolLevel): mqttPacket.Packet | null {
  let found: mqttPacket.Packet | null = null;
  const parser = mqttPacket.parser({ protocolVersion: level });
  parser.on('packet', (p: mqttPacket.Packet) => { found = p; });
  parser.on('error', () => { found = null; });
  parser.parse(bytes);
  return found;
}

export function errorCode(err: unknown): string {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return 'ESOCKET';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A random 63-bit decimal client id, as the seed made them. */
export function randomClientId(): string {
  const hi = BigInt(Math.floor(Math.random() * 0x80000000));
  const lo = BigInt(Math.floor(Math.random() * 0x100000000));
  return ((hi << 32n) | lo).toString();
}


// A subscriber whose reading the tool controls: 'stalled' subscribes and then never reads
// again (socket paused, kept open, so its TCP window fills and the broker must queue or
// drop for it); 'slow' reads at most `rate` messages/s by pausing and resuming its socket.
// A raw socket and a framer rather than the lean client: pausing is the whole point here.
import net from 'node:net';
import { Framer } from '../../src/shared/protocol/framer.ts';
import {
  CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, encodeConnect, encodeSubscribe, readVarint, writeAck,
  type ProtocolLevel, type QoS,
} from '../lib/packets.ts';
import { ClientError, errorCode, randomClientId } from '../lib/client.ts';
import { nowMs } from '../lib/clock.ts';
import { tcpQueues, type TcpQueues } from './tcp-queues.ts';

export interface ReaderOptions {
  host: string;
  port: number;
  level: ProtocolLevel;
  filter: string;
  qos: QoS;
  mode: 'stalled' | 'slow';
  /** Messages per second a slow reader reads at most. */
  rate: number;
  timeoutMs: number;
  username?: string;
  password?: string;
}

export interface ReaderReport {
  mode: 'stalled' | 'slow';
  qos: QoS;
  /** PUBLISH packets read. */
  received: number;
  /** Bytes the socket read, CONNACK and SUBACK included. */
  bytesRead: number;
  /** Bytes read after the subscription was acknowledged (a stalled reader: 0 or one chunk). */
  bytesAfterSuback: number;
  /** From the SUBACK (when stalling or pacing began) to this report, ms. */
  readingMs: number;
  /** Kernel queues of the connection at the end (Linux), null when unavailable. */
  queues: TcpQueues | null;
  closed: boolean;
}

const MAX_PACKET = 268_435_455;

export class ControlledReader {
  /** Its client id, so the bench can ask the broker which shard it landed on. */
  readonly clientId = randomClientId();
  private readonly o: ReaderOptions;
  private socket: net.Socket | null = null;
  private readonly framer: Framer;
  private received = 0;
  private subackBytes = 0;
  private closed = false;
  private startMs = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  private connack: ((rc: number) => void) | null = null;
  private suback: ((codes: number[]) => void) | null = null;
  private acks: Buffer[] = [];

  constructor(o: ReaderOptions) {
    this.o = o;
    this.framer = new Framer(MAX_PACKET, (b, off, len) => this.onPacket(b, off, len), () => this.socket?.destroy());
  }

  get mode(): 'stalled' | 'slow' { return this.o.mode; }

  /** Connects, subscribes, then starts stalling or pacing. Rejects with a ClientError. */
  async start(): Promise<void> {
    const o = this.o;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail('ETIMEDOUT', `no CONNACK within ${o.timeoutMs / 1000} s`), o.timeoutMs);
      const fail = (code: string, message: string): void => {
        clearTimeout(timer);
        this.socket?.destroy();
        reject(new ClientError(code, message));
      };
      const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
      this.socket = socket;
      socket.on('error', (err) => fail(errorCode(err), err.message));
      socket.on('close', () => { this.closed = true; fail('ECONNRESET', 'connection closed'); });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.once('connect', () => socket.write(encodeConnect({
        clientId: this.clientId, level: o.level, keepalive: 0, username: o.username, password: o.password,
      })));
      this.connack = (rc) => {
        if (rc !== 0) return fail(`CONNACK_${rc}`, `broker refused the connection (CONNACK code ${rc})`);
        socket.write(encodeSubscribe(1, [o.filter], o.qos, o.level));
      };
      this.suback = (codes) => {
        clearTimeout(timer);
        if (codes.some((c) => c >= 0x80)) return fail('SUBACK_FAILED', `broker refused the subscription (${codes.join(',')})`);
        resolve();
      };
    });
    this.subackBytes = this.socket!.bytesRead;
    this.startMs = nowMs();
    // Stop reading at once: anything the kernel already handed over is counted, no more.
    if (this.o.mode === 'stalled') this.socket!.pause();
  }

  report(brokerPort: number): ReaderReport {
    const s = this.socket;
    const bytesRead = s?.bytesRead ?? 0;
    return {
      mode: this.o.mode,
      qos: this.o.qos,
      received: this.received,
      bytesRead,
      bytesAfterSuback: bytesRead - this.subackBytes,
      readingMs: this.startMs > 0 ? Math.round((nowMs() - this.startMs) * 1000) / 1000 : 0,
      queues: s !== null && s.localPort !== undefined ? tcpQueues(s.localPort, brokerPort) : null,
      closed: this.closed,
    };
  }

  /** Abrupt close: a stalled client does not read a DISCONNECT answer anyway. */
  destroy(): void {
    if (this.resumeTimer !== null) clearTimeout(this.resumeTimer);
    this.socket?.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk);
    } catch {
      this.socket?.destroy();
      return;
    }
    if (this.acks.length > 0) {
      this.socket?.write(Buffer.concat(this.acks));
      this.acks = [];
    }
    if (this.o.mode === 'slow' && this.startMs > 0) this.pace();
  }

  /** Pauses until the messages read so far fit `rate` × elapsed (a 100 ms burst allowed). */
  private pace(): void {
    const allowed = (nowMs() - this.startMs) * this.o.rate / 1000 + this.o.rate / 10;
    if (this.received < allowed || this.resumeTimer !== null) return;
    this.socket?.pause();
    const waitMs = Math.ceil(((this.received - allowed) * 1000) / this.o.rate) + 1;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      if (!this.closed) this.socket?.resume();
    }, waitMs);
  }

  private onPacket(buf: Buffer, off: number, len: number): void {
    const type = buf[off]! >> 4;
    const [, lenBytes] = readVarint(buf, off + 1);
    const body = off + 1 + lenBytes;
    switch (type) {
      case PUBLISH: {
        this.received++;
        const qos = (buf[off]! >> 1) & 3;
        if (qos > 0) {
          const id = buf.readUInt16BE(body + 2 + buf.readUInt16BE(body));
          this.acks.push(ack(qos === 1 ? PUBACK : PUBREC, id));
        }
        return;
      }
      case PUBREL:
        this.acks.push(ack(PUBCOMP, buf.readUInt16BE(body)));
        return;
      case CONNACK: {
        const w = this.connack;
        this.connack = null;
        w?.(buf[body + 1]!);
        return;
      }
      case SUBACK: {
        const w = this.suback;
        this.suback = null;
        let p = body + 2;
        if (this.o.level === 5) {
          const [propLen, used] = readVarint(buf, p);
          p += used + propLen;
        }
        w?.([...buf.subarray(p, off + len)]);
        return;
      }
    }
  }
}

function ack(type: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  writeAck(b, 0, type, id);
  return b;
}

// A raw TCP MQTT client for black-box tests: send exact bytes, read whole packets with a small
// framer (fixed header + Remaining Length), decode each with mqtt-packet (the reference codec)
// and keep the raw bytes of everything received so failures can show them.
import net from 'node:net';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { Packet, PacketCmd, IConnectPacket, IConnackPacket } from 'mqtt-packet';
import { uid } from './clients.ts';

export type Version = 3 | 4 | 5;

/** A packet as received: the mqtt-packet decoding plus the exact bytes. */
export type Received = Packet & { raw: Buffer };
/** A received PUBLISH (fields as decoded by mqtt-packet). */
export type ReceivedPublish = Received & {
  cmd: 'publish'; topic: string; payload: Buffer; qos: 0 | 1 | 2; dup: boolean; retain: boolean; messageId?: number;
  properties?: { subscriptionIdentifier?: number | number[]; [k: string]: unknown };
};
/** A frame the reference codec could not decode. */
export interface Undecodable { cmd: 'undecodable'; raw: Buffer; error: string }
export type Frame = Received | Undecodable;

export const hex = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('hex').replace(/(..)(?=.)/g, '$1 ');

/** Parse "30 0a 00 ..." / "300a00" into bytes. */
export function fromHex(s: string): Buffer {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2) throw new Error(`odd hex string: ${s}`);
  return Buffer.from(clean, 'hex');
}

/** Encode an MQTT variable byte integer (Remaining Length). */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** Length-prefixed MQTT string (or binary) field. */
export function mqttString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A whole packet from a first byte and a body: adds the Remaining Length. */
export function frame(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);
}

/** Encode with the reference codec. */
export function encode(p: Packet, version: Version): Buffer {
  return mqttPacket.generate(p, { protocolVersion: version });
}

export function describeFrame(f: Frame): string {
  if (f.cmd === 'undecodable') return `undecodable(${f.error}) [${hex(f.raw)}]`;
  const { raw, ...rest } = f as Received & Record<string, unknown>;
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k === 'length' || v === undefined || v === null) continue;
    shown[k] = Buffer.isBuffer(v) ? `<${v.length} bytes: ${v.toString('utf8').slice(0, 40)}>` : v;
  }
  const bytes = raw.length > 64 ? `${hex(raw.subarray(0, 64))} … (${raw.length} bytes)` : hex(raw);
  return `${JSON.stringify(shown)} [${bytes}]`;
}

/** Reason/return code of an ack-like packet in either version. */
export function codeOf(p: Frame): number | undefined {
  const q = p as { reasonCode?: number; returnCode?: number };
  return q.reasonCode ?? q.returnCode;
}

/** Only a DISCONNECT with one of `reasons` may precede the close. */
export function assertClosedWith(frames: Frame[], reasons: number[], what: string): void {
  for (const f of frames) {
    assert.equal(f.cmd, 'disconnect', `${what}: unexpected ${describeFrame(f)}`);
    assert.ok(reasons.includes(codeOf(f) ?? 0), `${what}: DISCONNECT reason 0x${(codeOf(f) ?? 0).toString(16)}, expected ${reasons.map((r) => '0x' + r.toString(16)).join('/')}`);
  }
}

/** The server closes `c` within 5 s, with at most a DISCONNECT carrying one of `reasons` first. */
export async function closedWith(c: RawClient, reasons: number[], what: string): Promise<void> {
  assertClosedWith(await c.expectClose(5000), reasons, what);
}

function decodeOne(raw: Buffer, version: Version): Frame {
  const parser = mqttPacket.parser({ protocolVersion: version === 3 ? 4 : version });
  let out: Packet | undefined;
  let err: string | undefined;
  parser.on('packet', (p: Packet) => { out ??= p; });
  parser.on('error', (e: Error) => { err ??= e.message; });
  try {
    parser.parse(raw);
  } catch (e) {
    err ??= (e as Error).message;
  }
  if (out && !err) return Object.assign(out, { raw });
  return { cmd: 'undecodable', raw, error: err ?? 'incomplete' };
}

export interface RawOpenOptions { version?: Version; host?: string; timeout?: number }

/**
 * `raw(props?, clientId?)` for the tests sharing one broker: a raw client of `version` connected
 * with these CONNECT properties, its CONNACK as a received frame.
 */
export function rawConnector(h: { readonly port: number }, version: Version, prefix: string) {
  return async (props: Record<string, unknown> = {}, clientId = uid(prefix)): Promise<{ c: RawClient; connack: Received }> => {
    const r = await RawClient.connect(h.port, { version, clientId, properties: props as never });
    return { c: r.c, connack: r.connack as unknown as Received };
  };
}

export class RawClient {
  readonly socket: net.Socket;
  version: Version;
  /** Every frame received, in order (never consumed). */
  readonly log: Frame[] = [];
  /** Bytes received that do not form a packet (e.g. a malformed Remaining Length). */
  junk: Buffer | undefined;
  private queue: Frame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closedAt: number | undefined;
  private closeError: Error | undefined;
  private closeWaiters: Array<() => void> = [];
  /** Writers waiting for 'drain': one socket listener for all of them, not one per blocked write. */
  private drainWaiters: Array<() => void> = [];

  private constructor(socket: net.Socket, version: Version) {
    this.socket = socket;
    this.version = version;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    const onGone = () => this.markClosed();
    socket.on('end', onGone);
    socket.on('close', onGone);
    socket.on('error', (e) => { this.closeError ??= e; onGone(); });
    socket.on('drain', () => this.drained());
  }

  private drained(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of w) fn();
  }

  static open(port: number, opts: RawOpenOptions = {}): Promise<RawClient> {
    const { version = 4, host = '127.0.0.1', timeout = 5000 } = opts;
    return new Promise((res, rej) => {
      const s = net.connect({ host, port });
      const t = setTimeout(() => { s.destroy(); rej(new Error(`raw connect to ${host}:${port} timed out`)); }, timeout);
      s.once('connect', () => { clearTimeout(t); s.removeAllListeners('error'); res(new RawClient(s, version)); });
      s.once('error', (e) => { clearTimeout(t); rej(e); });
    });
  }

  /** Open a socket, send CONNECT, expect a CONNACK (returned; success not asserted unless `ok`). */
  static async connect(port: number, connect: Partial<IConnectPacket> & { version?: Version }, opts: { timeout?: number; ok?: boolean } = {}): Promise<{ c: RawClient; connack: IConnackPacket & { raw: Buffer } }> {
    const version = connect.version ?? (connect.protocolVersion as Version | undefined) ?? 4;
    const c = await RawClient.open(port, { version });
    try {
      const connack = await c.handshake(connect, opts);
      return { c, connack };
    } catch (e) {
      c.destroy();
      throw e;
    }
  }

  /** Send CONNECT and wait for CONNACK; asserts return code 0 when `ok` (default true). */
  async handshake(connect: Partial<IConnectPacket>, opts: { timeout?: number; ok?: boolean } = {}): Promise<IConnackPacket & { raw: Buffer }> {
    const v = this.version;
    const p: IConnectPacket = {
      cmd: 'connect',
      protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: v,
      clean: true,
      keepalive: 0,
      clientId: '',
      ...connect,
    };
    delete (p as { version?: unknown }).version;
    this.sendPacket(p);
    const ack = await this.expectPacket('connack', opts.timeout ?? 5000) as IConnackPacket & { raw: Buffer };
    if ((opts.ok ?? true) && codeOf(ack as Frame) !== 0) {
      throw new Error(`CONNACK refused: ${describeFrame(ack as Frame)}`);
    }
    return ack;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) break;
      let len = 0;
      let mul = 1;
      let i = 1;
      let complete = false;
      for (; i < this.buf.length && i <= 4; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) { complete = true; break; }
      }
      if (!complete) {
        if (i > 4) { this.junk = this.buf; this.buf = Buffer.alloc(0); }
        break;
      }
      const total = i + 1 + len;
      if (this.buf.length < total) break;
      const raw = Buffer.from(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
      const f = decodeOne(raw, this.version);
      this.log.push(f);
      this.queue.push(f);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private markClosed(): void {
    if (this.closedAt !== undefined) return;
    this.closedAt = Date.now();
    this.wake();
    this.drained();
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const fn of w) fn();
  }

  get closed(): boolean { return this.closedAt !== undefined; }
  get closedAtMs(): number | undefined { return this.closedAt; }

  send(data: Buffer | string): void {
    const b = typeof data === 'string' ? fromHex(data) : data;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  /** Write and wait until the kernel accepted the bytes (backpressure-aware). */
  write(data: Buffer): Promise<void> {
    return new Promise((res) => {
      if (this.socket.destroyed || !this.socket.writable) return res();
      if (this.socket.write(data)) res();
      else this.drainWaiters.push(res);
    });
  }

  sendPacket(p: Packet): void {
    this.send(encode(p, this.version));
  }

  /** The next packet, whatever it is. Rejects on timeout or when the connection closes first. */
  next(timeout = 5000, what = 'a packet'): Promise<Frame> {
    return new Promise((res, rej) => {
      const tryTake = (): boolean => {
        const f = this.queue.shift();
        if (f) { clearTimeout(t); res(f); return true; }
        if (this.closed) {
          clearTimeout(t);
          rej(new Error(`connection closed while waiting for ${what}${this.closeError ? ` (${this.closeError.message})` : ''}; received so far: ${this.history()}`));
          return true;
        }
        return false;
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== loop);
        rej(new Error(`timed out after ${timeout} ms waiting for ${what}; received so far: ${this.history()}`));
      }, timeout);
      const loop = () => { if (!tryTake()) this.waiters.push(loop); };
      loop();
    });
  }

  /** The next packet, which must be of type `cmd`. */
  async expectPacket(cmd: PacketCmd, timeout = 5000): Promise<Received> {
    const f = await this.next(timeout, `${cmd.toUpperCase()}`);
    if (f.cmd !== cmd) throw new Error(`expected ${cmd.toUpperCase()}, got ${describeFrame(f)}`);
    return f as Received;
  }

  /**
   * The first packet of type `cmd` (matching `pred`), searching what is queued and then what
   * arrives; other packets stay queued, in order, for later reads.
   */
  async waitFor(cmd: PacketCmd, timeout = 5000, pred: (p: Received) => boolean = () => true): Promise<Received> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const idx = this.queue.findIndex((f) => f.cmd === cmd && pred(f as Received));
      if (idx >= 0) return this.queue.splice(idx, 1)[0] as Received;
      if (this.closed) throw new Error(`connection closed while waiting for ${cmd.toUpperCase()}${this.closeError ? ` (${this.closeError.message})` : ''}; received so far: ${this.history()}`);
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.arrival(left))) {
        throw new Error(`timed out after ${timeout} ms waiting for ${cmd.toUpperCase()}; received so far: ${this.history()}`);
      }
    }
  }

  /** Resolves true on new data or close, false after `ms`. */
  private arrival(ms: number): Promise<boolean> {
    return new Promise((res) => {
      const on = () => { clearTimeout(t); res(true); };
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== on); res(false); }, ms);
      this.waiters.push(on);
    });
  }

  /** Assert no packet arrives for `ms` (and the connection stays up unless allowClose). */
  async expectNothing(ms: number, opts: { allowClose?: boolean } = {}): Promise<void> {
    try {
      const f = await this.next(ms, 'nothing');
      throw new Error(`expected no packet for ${ms} ms, got ${describeFrame(f)}`);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.startsWith('timed out')) return;
      if (msg.startsWith('connection closed') && opts.allowClose) return;
      throw e;
    }
  }

  /** Wait for the peer to close; resolves with the packets that arrived (unread) before the close. */
  expectClose(timeout = 5000): Promise<Frame[]> {
    return new Promise((res, rej) => {
      let t: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(t);
        const rest = this.queue;
        this.queue = [];
        res(rest);
      };
      if (this.closed) return done();
      t = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((w) => w !== done);
        rej(new Error(`connection still open after ${timeout} ms; received: ${this.history()}`));
      }, timeout);
      this.closeWaiters.push(done);
    });
  }

  /** Resolves true when closed within `ms`, false otherwise (never rejects). */
  async closesWithin(ms: number): Promise<boolean> {
    try { await this.expectClose(ms); return true; } catch { return false; }
  }

  history(max = 12): string {
    if (!this.log.length) return '(nothing)';
    const shown = this.log.slice(-max).map(describeFrame).join('; ');
    return this.log.length > max ? `… ${shown}` : shown;
  }

  private nextId = 0x100;
  /** A fresh packet identifier (never 0). */
  id(): number {
    this.nextId = this.nextId >= 0xfff0 ? 0x100 : this.nextId + 1;
    return this.nextId;
  }

  /** SUBSCRIBE and wait for the SUBACK; returns the granted codes (asserting the packet id echo). */
  async subscribe(filters: string | Array<{ topic: string; qos: number; nl?: boolean; rap?: boolean; rh?: number }>, qos = 0, timeout = 5000): Promise<number[]> {
    const subs = typeof filters === 'string' ? [{ topic: filters, qos }] : filters;
    const messageId = this.id();
    this.sendPacket({ cmd: 'subscribe', messageId, subscriptions: subs as never });
    const ack = await this.waitFor('suback', timeout) as Received & { messageId: number; granted: number[] };
    if (ack.messageId !== messageId) throw new Error(`SUBACK packet id ${ack.messageId} != SUBSCRIBE packet id ${messageId}`);
    return ack.granted;
  }

  /** Acknowledge a received QoS 1/2 PUBLISH: PUBACK, or PUBREC → PUBREL → PUBCOMP. */
  async ack(p: Received, timeout = 5000): Promise<void> {
    const q = p as Received & { qos: number; messageId?: number };
    if (q.qos === 1) this.send(buildAck(0x40, q.messageId!));
    else if (q.qos === 2) {
      this.send(buildAck(0x50, q.messageId!));
      const rel = await this.waitFor('pubrel', timeout) as Received & { messageId: number };
      if (rel.messageId !== q.messageId) throw new Error(`PUBREL id ${rel.messageId} != ${q.messageId}`);
      this.send(buildAck(0x70, q.messageId!));
    }
  }

  /** Stop reading: the kernel buffers fill and the peer sees TCP backpressure. */
  pause(): void { this.socket.pause(); }

  /** Polite end: send DISCONNECT (v5 reason 0 unless given) and close. */
  disconnect(reasonCode?: number): void {
    if (this.closed) return;
    const p: Packet = this.version === 5
      ? { cmd: 'disconnect', reasonCode: reasonCode ?? 0 }
      : { cmd: 'disconnect' };
    this.sendPacket(p);
    this.socket.end();
  }

  /** Abrupt end (no DISCONNECT): what a crashed client looks like. */
  destroy(): void {
    this.socket.destroy();
    this.markClosed();
  }
}

export interface ConnectSpec {
  version?: Version;
  /** Protocol name; default 'MQTT' (v4/v5) or 'MQIsdp' (v3). */
  protocolName?: string;
  /** Protocol level byte; default the version. */
  level?: number;
  clientId?: string | Buffer;
  clean?: boolean;
  keepalive?: number;
  username?: string | Buffer;
  password?: string | Buffer;
  will?: { topic: string | Buffer; payload: string | Buffer; qos?: number; retain?: boolean; properties?: Buffer };
  /** v5 CONNECT properties, already encoded (without the length prefix). */
  properties?: Buffer;
  /** Bits OR-ed into the computed connect flags (e.g. 0x01, the reserved bit). */
  orFlags?: number;
  /** Replace the computed connect flags entirely. */
  flags?: number;
}

/** Build a CONNECT byte by byte, so tests can make it exactly as wrong as they need. */
export function buildConnect(spec: ConnectSpec = {}): Buffer {
  const version = spec.version ?? 4;
  const name = spec.protocolName ?? (version === 3 ? 'MQIsdp' : 'MQTT');
  const level = spec.level ?? version;
  const will = spec.will;
  let flags = 0;
  if (spec.clean ?? true) flags |= 0x02;
  if (will) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0);
  if (spec.password !== undefined) flags |= 0x40;
  if (spec.username !== undefined) flags |= 0x80;
  flags |= spec.orFlags ?? 0;
  if (spec.flags !== undefined) flags = spec.flags;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(spec.keepalive ?? 0);
  const parts: Buffer[] = [mqttString(name), Buffer.from([level, flags]), ka];
  if (version === 5) {
    const props = spec.properties ?? Buffer.alloc(0);
    parts.push(varint(props.length), props);
  }
  parts.push(mqttString(spec.clientId ?? ''));
  if (will) {
    if (version === 5) {
      const wp = will.properties ?? Buffer.alloc(0);
      parts.push(varint(wp.length), wp);
    }
    parts.push(mqttString(will.topic), mqttString(will.payload));
  }
  if (spec.username !== undefined) parts.push(mqttString(spec.username));
  if (spec.password !== undefined) parts.push(mqttString(spec.password));
  return frame(0x10, Buffer.concat(parts));
}

/** Build a PUBLISH byte by byte (topic may be raw bytes, e.g. invalid UTF-8). */
export function buildPublish(spec: { version?: Version; topic: string | Buffer; payload?: string | Buffer; qos?: number; retain?: boolean; dup?: boolean; id?: number; properties?: Buffer; firstByte?: number }): Buffer {
  const version = spec.version ?? 4;
  const qos = spec.qos ?? 0;
  const first = spec.firstByte ?? (0x30 | (spec.dup ? 0x08 : 0) | (qos << 1) | (spec.retain ? 0x01 : 0));
  const parts: Buffer[] = [mqttString(spec.topic)];
  if (qos > 0 || spec.id !== undefined) {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(spec.id ?? 1);
    parts.push(id);
  }
  if (version === 5) {
    const props = spec.properties ?? Buffer.alloc(0);
    parts.push(varint(props.length), props);
  }
  parts.push(typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0)));
  return frame(first, Buffer.concat(parts));
}

/** Build a SUBSCRIBE with raw options bytes per filter. */
export function buildSubscribe(spec: { version?: Version; id?: number; filters: Array<{ topic: string | Buffer; options: number }>; firstByte?: number; properties?: Buffer }): Buffer {
  const version = spec.version ?? 4;
  const id = Buffer.alloc(2);
  id.writeUInt16BE(spec.id ?? 1);
  const parts: Buffer[] = [id];
  if (version === 5) {
    const props = spec.properties ?? Buffer.alloc(0);
    parts.push(varint(props.length), props);
  }
  for (const f of spec.filters) parts.push(mqttString(f.topic), Buffer.from([f.options]));
  return frame(spec.firstByte ?? 0x82, Buffer.concat(parts));
}

/** A two-byte-id ack-family packet (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70). */
export function buildAck(firstByte: number, id: number): Buffer {
  return Buffer.from([firstByte, 0x02, id >> 8, id & 0xff]);
}

/** Encoders for v5 properties (identifier byte + value), to build property sections by hand. */
export const prop = {
  byte: (id: number, v: number): Buffer => Buffer.from([id, v]),
  u16: (id: number, v: number): Buffer => { const b = Buffer.alloc(3); b[0] = id; b.writeUInt16BE(v, 1); return b; },
  u32: (id: number, v: number): Buffer => { const b = Buffer.alloc(5); b[0] = id; b.writeUInt32BE(v, 1); return b; },
  varint: (id: number, v: number): Buffer => Buffer.concat([Buffer.from([id]), varint(v)]),
  str: (id: number, s: string | Buffer): Buffer => Buffer.concat([Buffer.from([id]), mqttString(s)]),
  pair: (id: number, k: string, v: string): Buffer => Buffer.concat([Buffer.from([id]), mqttString(k), mqttString(v)]),
};

/** Wire types of the v5 property identifiers. */
const PROP_TYPES: Record<number, 'byte' | 'u16' | 'u32' | 'varint' | 'str' | 'bin' | 'pair'> = {
  0x01: 'byte', 0x02: 'u32', 0x03: 'str', 0x08: 'str', 0x09: 'bin', 0x0b: 'varint', 0x11: 'u32', 0x12: 'str',
  0x13: 'u16', 0x15: 'str', 0x16: 'bin', 0x17: 'byte', 0x18: 'u32', 0x19: 'byte', 0x1a: 'str', 0x1c: 'str',
  0x1f: 'str', 0x21: 'u16', 0x22: 'u16', 0x23: 'u16', 0x24: 'byte', 0x25: 'byte', 0x26: 'pair', 0x27: 'u32',
  0x28: 'byte', 0x29: 'byte', 0x2a: 'byte',
};

/**
 * The properties of a received v5 PUBLISH, in wire order, as [identifier, value] pairs (value:
 * number, utf-8 string, Buffer, or [key, value]). Throws on an unknown identifier.
 */
export function publishProperties(raw: Buffer): Array<[number, number | string | Buffer | [string, string]]> {
  let pos = 1;
  while (raw[pos]! & 0x80) pos++;
  pos++;
  const qos = (raw[0]! >> 1) & 3;
  const tlen = raw.readUInt16BE(pos);
  pos += 2 + tlen + (qos > 0 ? 2 : 0);
  let plen = 0;
  let mul = 1;
  for (;;) { const b = raw[pos++]!; plen += (b & 0x7f) * mul; mul *= 128; if (!(b & 0x80)) break; }
  const end = pos + plen;
  const out: Array<[number, number | string | Buffer | [string, string]]> = [];
  const str = (): string => { const l = raw.readUInt16BE(pos); const s = raw.subarray(pos + 2, pos + 2 + l).toString('utf8'); pos += 2 + l; return s; };
  while (pos < end) {
    const id = raw[pos++]!;
    const type = PROP_TYPES[id];
    if (!type) throw new Error(`unknown property 0x${id.toString(16)} in [${hex(raw)}]`);
    switch (type) {
      case 'byte': out.push([id, raw[pos]!]); pos += 1; break;
      case 'u16': out.push([id, raw.readUInt16BE(pos)]); pos += 2; break;
      case 'u32': out.push([id, raw.readUInt32BE(pos)]); pos += 4; break;
      case 'varint': {
        let v = 0; let m = 1;
        for (;;) { const b = raw[pos++]!; v += (b & 0x7f) * m; m *= 128; if (!(b & 0x80)) break; }
        out.push([id, v]);
        break;
      }
      case 'str': out.push([id, str()]); break;
      case 'bin': { const l = raw.readUInt16BE(pos); out.push([id, Buffer.from(raw.subarray(pos + 2, pos + 2 + l))]); pos += 2 + l; break; }
      case 'pair': { const k = str(); const v = str(); out.push([id, [k, v]]); break; }
    }
  }
  return out;
}

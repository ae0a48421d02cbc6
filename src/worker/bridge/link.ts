// One MQTT client connection of a bridge, on mqtt-packet over a byte stream: a TCP or TLS socket to
// the remote broker (remote.ts), or the in-process stream to this shard (local.ts). It owns the
// framing, CONNECT/CONNACK with a deadline and keepalive; what the packets mean is bridge.ts'.
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';

export type Packet = mqttPacket.Packet;

export interface LinkEvents {
  /** CONNACK with success: the link is up. */
  up(connack: mqttPacket.IConnackPacket): void;
  packet(p: Packet): void;
  /** The link is gone (never called twice); `why` for the status' last error. */
  down(why: string, connack: mqttPacket.IConnackPacket | null): void;
}

/** Above this many bytes waiting in the stream, QoS 0 is dropped (and counted) rather than queued. */
export const LINK_HIGH_WATER = 1 << 20;

export class Link {
  readonly version: 4 | 5;
  private readonly stream: Duplex;
  private readonly ev: LinkEvents;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly opts: { protocolVersion: number };
  private state: 'connecting' | 'up' | 'down' = 'connecting';
  private timer: NodeJS.Timeout | null = null;
  private keepaliveMs = 0;
  private heard = true;       // bytes came since the last keepalive tick
  private pinged = false;     // a PINGREQ waits for its PINGRESP

  constructor(stream: Duplex, version: 4 | 5, ev: LinkEvents) {
    this.stream = stream;
    this.version = version;
    this.ev = ev;
    this.opts = { protocolVersion: version };
    this.parser = mqttPacket.parser(this.opts);
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.fail(`bad packet from the broker: ${err.message}`));
    stream.on('data', (b: Buffer) => { this.heard = true; this.parser.parse(b); });
    stream.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    stream.on('close', () => this.fail('connection closed'));
  }

  get up(): boolean { return this.state === 'up'; }
  /** Bytes written and not yet taken by the other end. */
  get backlog(): number { return this.stream.writableLength; }

  /** Sends CONNECT; `timeoutMs` for its CONNACK; `keepalive` (s) is also the ping period. */
  connect(packet: mqttPacket.IConnectPacket, timeoutMs: number, bridgeMode = false): void {
    this.keepaliveMs = (packet.keepalive ?? 0) * 1000;
    this.write(bridgeMode ? { ...packet, bridgeMode: true } as mqttPacket.IConnectPacket : packet);
    this.timer = setTimeout(() => this.fail(`no CONNACK within ${timeoutMs} ms`), timeoutMs);
  }

  send(p: Packet): void {
    if (this.state === 'down') return;
    this.write(p);
  }

  /** The packet's bytes, to check a size before sendBytes (encoded once either way). */
  encode(p: Packet): Buffer { return mqttPacket.generate(p, this.opts); }

  sendBytes(buf: Buffer): void {
    if (this.state !== 'down') this.stream.write(buf);
  }

  private write(p: Packet): void {
    const buf = mqttPacket.generate(p, this.opts);
    this.stream.write(buf);
  }

  /** A graceful end: DISCONNECT, then the stream ends; `dropSession` (v5) ends the session too. */
  end(reason = 0, dropSession = false): void {
    if (this.state === 'down') return;
    if (this.state === 'up') {
      this.write({ cmd: 'disconnect', ...(this.version === 5 ? { reasonCode: reason, ...(dropSession ? { properties: { sessionExpiryInterval: 0 } } : {}) } : {}) } as Packet);
    }
    // Ended, not destroyed, so the DISCONNECT is flushed; a peer that never closes is cut after 2 s.
    this.stream.end();
    setTimeout(() => { if (!this.stream.destroyed) this.stream.destroy(); }, 2000).unref();
    this.fail('closed by the bridge', null, false);
  }

  private onPacket(p: Packet): void {
    if (this.state === 'connecting') {
      if (p.cmd !== 'connack') { this.fail(`${p.cmd} before CONNACK`); return; }
      const ack = p as mqttPacket.IConnackPacket;
      const code = ack.reasonCode ?? ack.returnCode ?? 0;
      if (code !== 0) { this.fail(`refused by the broker: CONNACK ${this.version === 5 ? `reason 0x${code.toString(16)}` : `return code ${code}`}${ack.properties?.reasonString ? ` (${ack.properties.reasonString})` : ''}`, ack); return; }
      clearTimeout(this.timer!);
      this.state = 'up';
      if (this.keepaliveMs > 0) this.timer = setInterval(() => this.tick(), this.keepaliveMs);
      this.ev.up(ack);
      return;
    }
    if (this.state !== 'up') return;
    if (p.cmd === 'pingresp') { this.pinged = false; return; }
    if (p.cmd === 'disconnect') {
      const r = (p as mqttPacket.IDisconnectPacket).reasonCode;
      this.fail(`disconnected by the broker${r !== undefined ? ` (reason 0x${r.toString(16)})` : ''}`);
      return;
    }
    this.ev.packet(p);
  }

  /** Once per keepalive: ping when idle; a ping unanswered for a whole period ends the link. */
  private tick(): void {
    if (this.pinged && !this.heard) { this.fail('keepalive: no answer from the broker'); return; }
    this.heard = false;
    this.pinged = true;
    this.write({ cmd: 'pingreq' });
  }

  private fail(why: string, connack: mqttPacket.IConnackPacket | null = null, destroy = true): void {
    if (this.state === 'down') return;
    this.state = 'down';
    if (this.timer !== null) { clearTimeout(this.timer); clearInterval(this.timer); this.timer = null; }
    if (destroy && !this.stream.destroyed) this.stream.destroy();
    this.ev.down(why, connack);
  }
}

// The out direction's in-flight window: a mirror of the bridge's local session's in-flight QoS
// 1/2 messages (at most --max-inflight, the Receive Maximum the bridge gives it), by their packet
// id, which is also their id on the remote. It sends them within the remote's Receive Maximum,
// in order, and again with DUP after a reconnect; the messages themselves stay in the local
// session (and the store) until the remote's acknowledgement reaches it, so this is no queue.
import type mqttPacket from 'mqtt-packet';
import type { Link } from './link.ts';

interface Flight {
  pkt: mqttPacket.IPublishPacket;
  rel: boolean;       // the local session sent PUBREL: what goes (again) is a PUBREL
  sent: boolean;      // on the current remote connection
  everSent: boolean;  // on any remote connection: a resend carries DUP
}

/** What the window tells its bridge. */
export interface WindowEvents {
  /** `pkt` is larger than the remote takes: it is out of the window, to be acknowledged and dropped. */
  tooLarge(pkt: mqttPacket.IPublishPacket, size: number, max: number): void;
}

export class OutWindow {
  private readonly ev: WindowEvents;
  private readonly flights = new Map<number, Flight>();
  private remote: Link | null = null;
  private sentNow = 0;     // flights sent on the current remote connection
  private waiting = 0;     // flights not sent on it
  private size = 65535;    // the remote's Receive Maximum
  private maxPacket = 0;   // the remote's Maximum Packet Size; 0 = none

  constructor(ev: WindowEvents) { this.ev = ev; }

  /** The remote is up: send what waits. */
  connected(remote: Link, receiveMaximum: number, maxPacket: number): void {
    this.remote = remote;
    this.size = receiveMaximum;
    this.maxPacket = maxPacket;
    this.pump();
  }

  /** The remote is gone: everything waits for the next connection. */
  disconnected(): void {
    this.remote = null;
    for (const f of this.flights.values()) if (f.sent) { f.sent = false; this.waiting++; }
    this.sentNow = 0;
  }

  /** The local connection ended: its session sends its in-flight messages again on the next one. */
  clear(): void {
    this.flights.clear();
    this.sentNow = this.waiting = 0;
  }

  /** The encoded PUBLISH for the remote, or null when it is larger than the remote takes. */
  encode(r: Link, pkt: mqttPacket.IPublishPacket): Buffer | null {
    const buf = r.encode(pkt);
    if (this.maxPacket > 0 && buf.length > this.maxPacket) { this.ev.tooLarge(pkt, buf.length, this.maxPacket); return null; }
    return buf;
  }

  /** A QoS 1/2 PUBLISH from the local session (a redelivery replaces its earlier copy, in place). */
  add(pkt: mqttPacket.IPublishPacket): void {
    const id = pkt.messageId!;
    const old = this.flights.get(id);
    if (old !== undefined) this.unhold(old);
    const f: Flight = { pkt, rel: false, sent: false, everSent: old?.everSent === true };
    this.flights.set(id, f);
    const r = this.remote;
    if (this.waiting === 0 && r !== null && r.up && this.sentNow < this.size) this.send(r, f);
    else { this.waiting++; this.pump(); }
  }

  /** The local session's PUBREL: it goes to the remote (alone, if this window never saw the PUBLISH: a restart). */
  release(id: number): void {
    let f = this.flights.get(id);
    if (f === undefined) {
      f = { pkt: { cmd: 'publish', topic: '', payload: Buffer.alloc(0), qos: 2, retain: false, dup: false, messageId: id }, rel: true, sent: false, everSent: true };
      this.flights.set(id, f);
      this.waiting++;
    } else if (!f.rel) {
      if (f.sent) { f.sent = false; this.sentNow--; }
      f.rel = true;
      this.waiting++;
    }
    this.pump();
  }

  /**
   * The remote's PUBACK, PUBREC or PUBCOMP for `id`: true when it belongs to a flight (and is to
   * be passed to the local session). PUBACK and PUBCOMP, and a PUBREC with an error, end it.
   */
  acknowledged(cmd: 'puback' | 'pubrec' | 'pubcomp', id: number, failed: boolean): boolean {
    const f = this.flights.get(id);
    if (f === undefined) return false;
    if (cmd === 'pubrec' ? f.rel || f.pkt.qos !== 2 : (cmd === 'puback') === (f.pkt.qos === 2)) return false;
    if (cmd !== 'pubrec' || failed) { this.flights.delete(id); this.unhold(f); this.pump(); }
    return true;
  }

  private unhold(f: Flight): void { if (f.sent) this.sentNow--; else this.waiting--; }

  /** Sends a flight; a PUBLISH too large for the remote leaves the window instead. */
  private send(r: Link, f: Flight): void {
    if (f.rel) r.send({ cmd: 'pubrel', messageId: f.pkt.messageId! });
    else {
      f.pkt.dup = f.everSent;
      const buf = this.encode(r, f.pkt);
      if (buf === null) { this.flights.delete(f.pkt.messageId!); return; }
      r.sendBytes(buf);
    }
    f.sent = f.everSent = true;
    this.sentNow++;
  }

  /** Sends what waits, in order: PUBRELs always (their message holds its place already), PUBLISHes while the window allows. */
  private pump(): void {
    const r = this.remote;
    if (this.waiting === 0 || r === null || !r.up) return;
    let blocked = false;
    for (const f of this.flights.values()) {
      if (f.sent) continue;
      if (!f.rel && (blocked || this.sentNow >= this.size)) { blocked = true; continue; }
      this.waiting--;
      this.send(r, f);
      if (this.waiting === 0) break;
    }
  }
}

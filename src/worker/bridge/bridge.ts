// One bridge: a relay between two MQTT client connections of the bridge, the local one (a normal
// persistent session $bridge/<name> of this shard, subscribed to the `out` patterns with No
// Local) and the remote one. Both directions pass packets through with the SAME packet ids:
//   out: local PUBLISH id N -> remote PUBLISH id N; the remote's PUBACK/PUBREC/PUBCOMP N go back to
//        the local session, its PUBREL N to the remote. The local session keeps each message (in
//        its queue and the store) until the remote has acknowledged it, so an acknowledged local
//        PUBLISH survives a remote outage and a Shoal crash without a second queue; window.ts
//        mirrors the session's in-flight window to send it again, in order, when the remote is back.
//   in:  remote PUBLISH id M -> local PUBLISH id M; the local PUBACK (sent once committed) goes to
//        the remote, which resends until then: the remote's store covers what is in flight to us.
// QoS 0 for the remote while it is down or more than LINK_HIGH_WATER behind is dropped and counted.
import type { Duplex } from 'node:stream';
import type mqttPacket from 'mqtt-packet';
import type { BridgeInfo } from '../../shared/admin-query.ts';
import type { BridgeConfig } from '../../shared/config/bridges.ts';
import { BRIDGE_ID_PREFIX } from '../../shared/protocol/constants.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { ShardContext } from '../context.ts';
import type { Session } from '../session/session.ts';
import { LINK_HIGH_WATER, Link, type Packet } from './link.ts';
import { openLocal, type InternalSink } from './local.ts';
import { backoffMs, openStream } from './remote.ts';
import { inRules, outRules, mapTopic, type Rule } from './topics.ts';
import { BridgeSys } from './sys.ts';
import { RemoteFilters, staleFilters } from './reconcile.ts';
import { OutWindow } from './window.ts';

/** What a bridge uses of its shard. */
export interface BridgeParts {
  readonly ctx: ShardContext;
  readonly sink: InternalSink;
  readonly sessions: ReadonlyMap<string, Session>;
  /** Publishes a retained broker message locally ($SYS status). */
  publishSys(topic: string, value: string): void;
}

const SESSION_NEVER_EXPIRES = 0xffffffff;
const LOCAL_RETRY_MS = 1000;
// A message no rule maps is acknowledged "no matching subscribers" and not relayed; one larger
// than the other side takes (its v5 Maximum Packet Size, our --max-packet-size) is acknowledged
// "unspecified error" and dropped (counted): relayed, it would end the connection, and the
// sender would resend it on the next one for ever.
const NOT_MAPPED = Reason.NO_MATCHING_SUBSCRIBERS;
const TOO_LARGE = Reason.UNSPECIFIED_ERROR;

export class Bridge {
  readonly cfg: BridgeConfig;
  private readonly sh: BridgeParts;
  private readonly localId: string;
  private readonly outs: Rule[];
  private readonly ins: Rule[];
  private readonly remoteFilters: RemoteFilters;
  private remoteStale = false;        // an UNSUBSCRIBE of stale remote filters awaits its UNSUBACK
  private local: Link | null = null;
  private remote: Link | null = null;
  private connecting = false;
  private stopping = false;
  private noPrivate = false;          // the remote refused the 3.1.1 bridge flag: try without
  private readonly window = new OutWindow({
    tooLarge: (pkt, size, max) => {
      this.lastError = `a message on ${pkt.topic} (${size} bytes) is larger than the remote's Maximum Packet Size ${max}: dropped`;
      this.dropped++;
      if (pkt.qos > 0) this.notRelayed(this.local, pkt, TOO_LARGE, this.localRel);
    },
  });
  // QoS 2 ids not relayed (refused with a success code): their PUBREL is answered here.
  private readonly localRel = new Set<number>();
  private readonly remoteRel = new Set<number>();
  private retryTimer: NodeJS.Timeout | null = null;
  // status
  private address = '';
  private since = 0;
  private lastError = '';
  private sent = 0;
  private received = 0;
  private dropped = 0;
  private reconnects = 0;
  private wasUp = false;

  constructor(cfg: BridgeConfig, sh: BridgeParts) {
    this.cfg = cfg;
    this.sh = sh;
    this.localId = BRIDGE_ID_PREFIX + cfg.name;
    this.outs = outRules(cfg.topics);
    this.ins = inRules(cfg.topics);
    this.remoteFilters = new RemoteFilters(sh.ctx.config.persistence === 'memory' ? null : sh.ctx.config.dataDir, cfg.name);
  }

  private readonly sys = new BridgeSys();

  start(): void {
    this.openLocal();
    this.sys.start(this.sh.ctx.config.sysInterval, () => this.status(), (t, v) => this.sh.publishSys(t, v));
  }

  /** At shutdown the shard closes the local side itself; a reload that removes the bridge `forget`s it. */
  stop(): void {
    this.halt();
    this.remote?.end();
  }

  /**
   * A reload changed or removed this bridge: both connections end; a removed one's sessions go
   * too (`forget`: Session Expiry 0 in the DISCONNECT, the remote's only when it speaks v5), so
   * nothing keeps queueing for a remote no longer configured. A changed one keeps them for the
   * Bridge that replaces it.
   */
  close(forget: boolean): void {
    this.halt();
    this.remote?.end(0, forget);
    this.local?.end(0, forget);
  }

  private halt(): void {
    this.stopping = true;
    this.sys.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
  }

  status(): BridgeInfo {
    const s = this.sh.sessions.get(this.localId);
    return {
      name: this.cfg.name, shard: this.sh.ctx.id, connected: this.remote?.up === true, address: this.address,
      connected_since: this.remote?.up === true ? new Date(this.since).toISOString() : '', last_error: this.lastError,
      queued: s === undefined ? 0 : s.queued + s.inflight.size,
      sent: this.sent, received: this.received, dropped: this.dropped, reconnects: this.reconnects,
    };
  }

  // ---- the local side ----

  private openLocal(): void {
    this.retryTimer = null;
    if (this.stopping) return;
    const link = new Link(openLocal(this.sh.sink, this.cfg.name), 5, {
      up: () => this.localUp(),
      packet: (p) => this.fromLocal(p),
      down: (why) => this.localDown(why),
    });
    this.local = link;
    link.connect({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: this.localId, clean: false, keepalive: 0,
      properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES, receiveMaximum: Math.min(this.sh.ctx.config.maxInflight, 65535) },
    }, this.sh.ctx.config.connectTimeout);
  }

  private localUp(): void {
    // A rule removed from the configuration leaves nothing subscribed in our persistent session.
    const s = this.sh.sessions.get(this.localId);
    const stale = s === undefined ? [] : staleFilters(s.subs.keys(), this.outs.map((r) => r.localFilter));
    if (stale.length > 0) {
      this.sh.ctx.log.info({ bridge: this.cfg.name, filters: stale }, 'bridge: unsubscribing the local filters of removed rules');
      this.local!.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: stale } as mqttPacket.IUnsubscribePacket);
    }
    // Retained messages go out once, when a subscription is new (Retain Handling 1); No Local
    // keeps what this bridge publishes locally from going back out.
    if (this.outs.length > 0) {
      this.local!.send({
        cmd: 'subscribe', messageId: 1,
        subscriptions: this.outs.map((r) => ({ topic: r.localFilter, qos: r.qos, nl: true, rap: true, rh: 1 })),
      } as mqttPacket.ISubscribePacket);
    }
    void this.connectRemote(false);
  }

  private localDown(why: string): void {
    this.local = null;
    // The local session keeps its in-flight messages and sends them again on the next connect.
    this.window.clear();
    this.localRel.clear();
    if (this.stopping) return;
    this.sh.ctx.log.warn({ bridge: this.cfg.name, why }, 'bridge: local connection closed, reconnecting');
    // What the remote had in flight to us is resent only on a new remote connection.
    this.remote?.end();
    this.retryTimer = setTimeout(() => this.openLocal(), LOCAL_RETRY_MS);
  }

  private fromLocal(p: Packet): void {
    switch (p.cmd) {
      case 'publish': this.outPublish(p); break;
      case 'pubrel': {
        const id = p.messageId!;
        if (this.localRel.delete(id)) this.local!.send({ cmd: 'pubcomp', messageId: id, reasonCode: 0 } as Packet);
        else this.window.release(id);
        break;
      }
      // Acknowledgements of what came in from the remote: passed on with the remote's ids.
      case 'puback': case 'pubrec': case 'pubcomp':
        if (this.remote?.up === true) this.remote.send(this.ack(p.cmd, p.messageId!, (p as { reasonCode?: number }).reasonCode ?? 0, this.remote.version));
        break;
      case 'suback': this.checkSuback(p, 'local'); break;
    }
  }

  private outPublish(p: mqttPacket.IPublishPacket): void {
    const topic = mapTopic(this.outs, p.topic);
    if (topic === null) { this.notRelayed(this.local!, p, NOT_MAPPED, this.localRel); return; }
    const r = this.remote;
    const pkt: mqttPacket.IPublishPacket = {
      cmd: 'publish', topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: false,
      messageId: p.messageId, properties: this.cfg.protocolVersion === 5 ? relayedProps(p.properties) : undefined,
    };
    if (p.qos > 0) { this.window.add(pkt); return; }
    if (r === null || !r.up || r.backlog >= LINK_HIGH_WATER) { this.dropped++; return; }
    const buf = this.window.encode(r, pkt);
    if (buf !== null) { r.sendBytes(buf); this.sent++; }
  }

  /** Acknowledges a message that is not relayed; a QoS 2 one with a success code awaits its PUBREL here. */
  private notRelayed(to: Link | null, p: mqttPacket.IPublishPacket, reason: number, rel: Set<number>): void {
    if (p.qos === 0 || to === null) return;
    to.send(this.ack(p.qos === 1 ? 'puback' : 'pubrec', p.messageId!, reason, to.version));
    if (p.qos === 2 && (reason < 0x80 || to.version !== 5)) rel.add(p.messageId!);
  }

  // ---- the remote side ----

  /** Tries the addresses in order, then waits (backoff) and goes round again, until one answers. */
  private async connectRemote(waitFirst: boolean): Promise<void> {
    if (this.connecting || this.stopping) return;
    this.connecting = true;
    let failures = waitFirst ? 1 : 0;
    try {
      while (!this.stopping && this.local?.up === true) {
        if (failures > 0) await new Promise((r) => { this.retryTimer = setTimeout(r, backoffMs(this.cfg, failures)); });
        if (this.stopping || this.local?.up !== true) return;
        for (let i = 0; i < this.cfg.addresses.length; i++) {
          const a = this.cfg.addresses[i]!;
          let stream: Duplex;
          try {
            stream = await openStream(this.cfg, a, this.sh.ctx.config.connectTimeout);
          } catch (err) {
            this.failed((err as Error).message);
            continue;
          }
          if (this.stopping) { stream.destroy(); return; }
          const result = await this.handshake(stream, `${a.host}:${a.port}`);
          if (result === 'up') return;
          if (result === 'retry-plain') i--; // the same address again, without the bridge flag
        }
        failures++;
      }
    } finally {
      this.connecting = false;
    }
  }

  private handshake(stream: Duplex, address: string): Promise<'up' | 'failed' | 'retry-plain'> {
    const cfg = this.cfg;
    const bridgeFlag = cfg.protocolVersion === 4 && cfg.tryPrivate && !this.noPrivate;
    return new Promise((resolve) => {
      let settled = false;
      const link = new Link(stream, cfg.protocolVersion, {
        up: (ack) => { settled = true; this.remoteUp(link, ack, address); resolve('up'); },
        packet: (p) => this.fromRemote(p),
        down: (why, ack) => {
          if (settled) { this.remoteDown(link, why); return; }
          settled = true;
          this.failed(`${address}: ${why}`);
          // Mosquitto's try_private: a broker that does not know the bridge flag refuses the level (1).
          if (bridgeFlag && ack?.returnCode === 1) { this.noPrivate = true; resolve('retry-plain'); return; }
          resolve('failed');
        },
      });
      const persistent = !cfg.cleanStart;
      link.connect({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: cfg.protocolVersion, clientId: cfg.clientId, clean: cfg.cleanStart,
        keepalive: cfg.keepalive,
        ...(cfg.username !== '' ? { username: cfg.username } : {}),
        ...(cfg.password !== '' ? { password: Buffer.from(cfg.password) } : {}),
        ...(cfg.protocolVersion === 5 ? { properties: {
          sessionExpiryInterval: persistent ? SESSION_NEVER_EXPIRES : 0, receiveMaximum: Math.min(this.sh.ctx.config.receiveMaximum, 65535),
          maximumPacketSize: this.sh.ctx.config.maxPacketSize,
        } } : {}),
      }, this.sh.ctx.config.connectTimeout, bridgeFlag);
    });
  }

  private failed(why: string): void {
    this.lastError = why;
    this.sh.ctx.log.warn({ bridge: this.cfg.name, error: why }, 'bridge: cannot connect to the remote broker');
  }

  private remoteUp(link: Link, ack: mqttPacket.IConnackPacket, address: string): void {
    if (this.stopping || this.local?.up !== true) { link.end(); return; }
    this.remote = link;
    this.address = address;
    this.since = Date.now();
    if (this.wasUp) this.reconnects++;
    this.wasUp = true;
    if (!ack.sessionPresent) this.remoteRel.clear();
    this.sh.ctx.log.info({ bridge: this.cfg.name, address, sessionPresent: ack.sessionPresent }, 'bridge connected');
    this.reconcileRemote(link, ack.sessionPresent);
    if (this.ins.length > 0) {
      link.send({
        cmd: 'subscribe', messageId: 1,
        subscriptions: this.ins.map((r) => ({ topic: r.remoteFilter, qos: r.qos, nl: true, rap: true, rh: 0 })),
      } as mqttPacket.ISubscribePacket);
    }
    this.window.connected(link, ack.properties?.receiveMaximum ?? 65535, ack.properties?.maximumPacketSize ?? 0);
    this.notify(true);
  }

  /**
   * A persistent remote session that came back still has the subscriptions of rules since
   * removed: the recorded filters no `in` rule has are unsubscribed, and the list is recorded
   * again once the remote has taken that (UNSUBACK), so a crash before then tries again.
   */
  private reconcileRemote(link: Link, sessionPresent: boolean): void {
    if (this.cfg.cleanStart) return; // the remote keeps nothing of ours
    const stale = sessionPresent ? staleFilters(this.remoteFilters.recorded, this.ins.map((r) => r.remoteFilter)) : [];
    this.remoteStale = stale.length > 0;
    if (!this.remoteStale) { this.recordRemote(); return; }
    this.sh.ctx.log.info({ bridge: this.cfg.name, filters: stale }, 'bridge: unsubscribing the remote filters of removed rules');
    link.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: stale } as mqttPacket.IUnsubscribePacket);
  }

  private recordRemote(): void {
    try {
      this.remoteFilters.record(this.ins.map((r) => r.remoteFilter));
    } catch (err) {
      this.lastError = `cannot record the remote subscriptions: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      this.sh.ctx.log.warn({ bridge: this.cfg.name, error: this.lastError }, 'bridge: remote subscriptions not recorded');
    }
  }

  private remoteDown(link: Link, why: string): void {
    if (this.remote !== link) return;
    this.remote = null;
    this.lastError = why;
    this.window.disconnected();
    this.notify(false);
    if (this.stopping) return;
    this.sh.ctx.log.warn({ bridge: this.cfg.name, why }, 'bridge: remote connection lost, reconnecting');
    void this.connectRemote(true);
  }

  private fromRemote(p: Packet): void {
    const r = this.remote;
    if (r === null) return;
    switch (p.cmd) {
      case 'publish': {
        const topic = mapTopic(this.ins, p.topic);
        const l = this.local;
        if (topic === null) { this.notRelayed(r, p, NOT_MAPPED, this.remoteRel); return; }
        if (l === null || !l.up) { r.end(); return; } // no local side: the remote resends once we are back
        const buf = l.encode({ cmd: 'publish', topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup, messageId: p.messageId, properties: relayedProps(p.properties) });
        if (buf.length > this.sh.ctx.config.maxPacketSize) {
          this.lastError = `a message from the remote on ${p.topic} (${buf.length} bytes) is larger than --max-packet-size: dropped`;
          this.notRelayed(r, p, TOO_LARGE, this.remoteRel);
          return;
        }
        this.received++;
        l.sendBytes(buf);
        break;
      }
      case 'pubrel':
        if (this.remoteRel.delete(p.messageId!)) r.send(r.version === 5 ? { cmd: 'pubcomp', messageId: p.messageId!, reasonCode: 0 } as Packet : { cmd: 'pubcomp', messageId: p.messageId! });
        else this.local?.send({ cmd: 'pubrel', messageId: p.messageId! });
        break;
      case 'puback': case 'pubrec': case 'pubcomp': {
        const code = (p as { reasonCode?: number }).reasonCode ?? 0;
        if (!this.window.acknowledged(p.cmd, p.messageId!, code >= 0x80)) break;
        if (p.cmd !== 'pubrec') this.sent++;
        if (code >= 0x80) this.lastError = `the remote refused a message: ${p.cmd.toUpperCase()} 0x${code.toString(16)}`;
        // The remote's reason goes on (v5 both sides): the local session ends a refused flow too.
        this.local?.send(this.ack(p.cmd, p.messageId!, code, 5));
        break;
      }
      case 'suback': this.checkSuback(p, 'remote'); break;
      case 'unsuback': if (this.remoteStale) { this.remoteStale = false; this.recordRemote(); } break;
    }
  }

  private ack(cmd: 'puback' | 'pubrec' | 'pubcomp', messageId: number, reasonCode: number, version: number): Packet {
    return (version === 5 ? { cmd, messageId, reasonCode } : { cmd, messageId }) as Packet;
  }

  private checkSuback(p: mqttPacket.ISubackPacket, side: string): void {
    const bad = (p.granted as number[]).filter((g) => g >= 0x80);
    if (bad.length === 0) return;
    this.lastError = `${side} broker refused ${bad.length} subscription(s) of the bridge`;
    this.sh.ctx.log.warn({ bridge: this.cfg.name, side, granted: p.granted }, 'bridge: subscription refused');
  }

  /** Mosquitto's notifications: $SYS/broker/connection/<name>/state 1 or 0, retained. */
  private notify(up: boolean): void {
    this.sys.tick();
    if (this.cfg.notifications) this.sh.publishSys(`$SYS/broker/connection/${this.cfg.name}/state`, up ? '1' : '0');
  }
}

/** v5 properties a relayed PUBLISH keeps: not the hop's own Topic Alias and Subscription Identifiers. */
function relayedProps(p: mqttPacket.IPublishPacket['properties']): mqttPacket.IPublishPacket['properties'] {
  if (p === undefined) return undefined;
  const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = p;
  return rest;
}

import type { ClientGuard } from '../auth/access.ts';
import type { Message } from './message.ts';
import type { Connection } from '../net/connection.ts';
import type { Move } from './move.ts';
import type { LongTimeout } from './timers.ts';
import type { Subscription } from './subscription.ts';

/** A message waiting for, or in, its QoS 1/2 flow with one client. */
export interface Outbound {
  msg: Message;
  qos: 0 | 1 | 2;
  retain: boolean;
  subIds: number[] | null;
  packetId: number;
  state: 0 | 1 | 2; // 0 queued, 1 PUBLISH sent (awaiting PUBACK/PUBREC), 2 PUBREL sent (awaiting PUBCOMP)
  seq: number;      // key of its store record (persistent sessions, durable/fast modes); 0 = not stored
}

export interface Will {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  props: Buffer | null;    // publish properties to carry (v5 will properties minus will delay)
  expiry: number;          // message expiry interval seconds, -1 = none
  delayMs: number;
}

export const NEVER_EXPIRES = 0xffffffff;

/**
 * --persistent-client-expiration (Mosquitto's option): a session asking never to expire (3.1.1
 * clean session 0, v5 0xFFFFFFFF at CONNECT or DISCONNECT) lives `limit` seconds offline (0 = no bound).
 */
export function boundedExpiry(asked: number, limit: number): number {
  return asked === NEVER_EXPIRES && limit > 0 ? limit : asked;
}

// What a session reads before it has subscriptions, messages in flight or QoS 2 ids (never written).
const EMPTY_MAP: ReadonlyMap<never, never> = new Map<never, never>();
const EMPTY_SET: ReadonlySet<never> = new Set<never>();

/** What a queued message counts against the per-session byte limit. */
export function outboundBytes(o: Outbound): number { return o.msg.payload.length + o.msg.topic.length; }

/** Counts on a session dropping what it is sent (routing/withdraw.ts): told when it may take messages again. */
export interface DropWatch {
  mayTake(s: Session): void;
}

/**
 * State of one client id on its owning shard, with or without a live connection. A FIFO
 * array with a moving head is the queue: no per-message node allocation, compacted in bulk.
 */
export class Session {
  readonly clientId: string;
  version: number;
  expiryInterval: number;             // seconds; 0 = ends with the connection; NEVER_EXPIRES
  expiryBounded = false;              // expiryInterval is --persistent-client-expiration's, not the client's (counted when it ends the session)
  conn: Connection | null = null;
  // subs, inflight and inboundQos2 are made on first use: a held connection that only publishes
  // QoS 0 (or idles) never needs them, and three empty collections cost ~700 B a session.
  private subsMap: Map<string, Subscription> | null = null;
  queue: Outbound[] = [];
  queueHead = 0;
  qos0Held = 0;                        // QoS 0 entries currently in queue
  private inflightMap: Map<number, Outbound> | null = null;
  private inboundQos2Set: Set<number> | null = null;
  // Inbound QoS 2 ids routed here whose frame for another node was refused (past
  // --cluster-hold-bytes, worker/cluster/link.ts): the resend goes to the other nodes only, so
  // this node's subscribers do not get it twice. Memory only; made on first use.
  reforward: Set<number> | null = null;
  nextPacketId = 1;
  nextSeq = 1;                         // next outbound store sequence number (durability.ts)
  queuedBytes = 0;                     // payload + topic bytes in queue (per-session byte limit)
  counted = false;                     // counted in the shard's PERSISTENT_SESSIONS (durability.ts)
  will: Will | null = null;
  willTimer: LongTimeout | null = null;
  expiryTimer: LongTimeout | null = null;
  disconnectedAt = 0;
  token = 0;                           // claim token of the connection that owns it (registry)
  moving: Move | null = null;          // set while the session moves between shards (moves.ts)
  guard: ClientGuard | null = null;    // the connected client's access (auth/access.ts); null = no access control
  // The user name its client connected with (undefined: none), kept with the session so checks
  // made on its behalf offline (its will, deliveries to its queue) use its identity after a
  // restart; userKnown is false only for a store record written before it was kept.
  username: string | undefined = undefined;
  userKnown = true;
  /** Set while a withdrawn route counts on this session dropping (mayTakeAgain). */
  dropWatch: DropWatch | null = null;
  // Per-publish aggregation of overlapping subscriptions (epoch stamp avoids clearing a set).
  matchEpoch = 0;
  matchQos = 0;
  matchRetain = false;
  matchSubIds: number[] | null = null;

  constructor(clientId: string, version: number, expiryInterval: number) {
    this.clientId = clientId;
    this.version = version;
    this.expiryInterval = expiryInterval;
  }

  // Reads see a shared empty collection until the first write makes the session its own; the
  // read-only types make the compiler send every write through the writable* methods.
  get subs(): ReadonlyMap<string, Subscription> { return this.subsMap ?? EMPTY_MAP; }
  /** Insertion order = send order, kept on redelivery. */
  get inflight(): ReadonlyMap<number, Outbound> { return this.inflightMap ?? EMPTY_MAP; }
  get inboundQos2(): ReadonlySet<number> { return this.inboundQos2Set ?? EMPTY_SET; }
  writableSubs(): Map<string, Subscription> { return this.subsMap ??= new Map(); }
  writableInflight(): Map<number, Outbound> { return this.inflightMap ??= new Map(); }
  writableInboundQos2(): Set<number> { return this.inboundQos2Set ??= new Set(); }

  /**
   * Something that can make this session take a message it would have dropped happened (its
   * queue shrank; its connection came, went or was taken back from slow; it began to move):
   * whoever counted on its drops must stop. One null check when nobody does.
   */
  mayTakeAgain(): void {
    const w = this.dropWatch;
    if (w === null) return;
    this.dropWatch = null;
    w.mayTake(this);
  }

  get persistent(): boolean { return this.expiryInterval !== 0; }
  get queued(): number { return this.queue.length - this.queueHead; }

  enqueue(o: Outbound): void { this.queue.push(o); this.queuedBytes += outboundBytes(o); if (o.qos === 0) this.qos0Held++; }
  peek(): Outbound | undefined { return this.queue[this.queueHead]; }
  shift(): Outbound | undefined {
    const o = this.queue[this.queueHead];
    if (o === undefined) return undefined;
    this.queue[this.queueHead++] = undefined as unknown as Outbound;
    this.queuedBytes -= outboundBytes(o);
    if (o.qos === 0) this.qos0Held--;
    if (this.dropWatch !== null) this.mayTakeAgain();
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return o;
  }
  /** The queued QoS 0 message dropOldestQos0 would drop (for a hook to be told which). */
  oldestQos0(): Outbound | undefined {
    if (this.qos0Held === 0) return undefined;
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queue[i]!.qos === 0) return this.queue[i];
    return undefined;
  }
  /** Drops the oldest queued QoS 0 message to make room; false when there is none. */
  dropOldestQos0(): boolean {
    // O(1) when there is none (a queue of QoS 1/2 at its limit is asked on every message) or
    // when it is the oldest entry (a QoS 0 only queue); otherwise a scan, bounded by the limit.
    if (this.qos0Held === 0) return false;
    if (this.queue[this.queueHead]!.qos === 0) { this.shift(); return true; }
    for (let i = this.queueHead; i < this.queue.length; i++) {
      if (this.queue[i]!.qos === 0) {
        this.queuedBytes -= outboundBytes(this.queue[i]!);
        this.queue.splice(i, 1);
        this.qos0Held--;
        if (this.dropWatch !== null) this.mayTakeAgain();
        return true;
      }
    }
    return false;
  }

  /** Next free packet id, skipping ids still in flight [MQTT-2.2.1-3]. 0 when all 65535 are in use. */
  allocatePacketId(): number {
    if (this.inflight.size >= 65535) return 0;
    let id = this.nextPacketId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  clearTimers(): void {
    if (this.willTimer !== null) { this.willTimer.clear(); this.willTimer = null; }
    if (this.expiryTimer !== null) { this.expiryTimer.clear(); this.expiryTimer = null; }
  }
}

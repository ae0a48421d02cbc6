import type { ByteReader } from '../../shared/bytes.ts';

/**
 * An application message as the broker holds it. Created once per inbound PUBLISH and shared
 * by every delivery; never mutated after creation except for the per-fan-out encode cache.
 */
export class Message {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** v5 PUBLISH properties as wire bytes, minus Topic Alias, Message Expiry and Subscription Ids (re-added per delivery). */
  props: Buffer | null;
  /** ms since epoch; 0 = never expires. */
  expiresAt: number;
  /** Client id of the publisher (No Local), '' for broker-generated messages. */
  origin: string;
  // Encode-once cache for one fan-out: index = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0).
  encoded: (Buffer | undefined)[] | null = null;
  /** Identity for de-duplication during a session move: publishing shard (-1: none) and its sequence number. */
  src = -1;
  seq = 0;
  /**
   * The publishing shard of another node ("node.shard"), set only while a session moves between
   * nodes (worker/cluster/node-moves.ts), so the moving session's two ends can tell its stream apart.
   */
  sender: string | null = null;
  encodedAt = 0;
  /**
   * The payload / props detach() made (null: not yet). A small copy comes from Node's shared
   * pool, so it too is a slice of a larger buffer: without this, every delivery that keeps the
   * message (each queued or in-flight subscriber) copied the payload again, and beside a stalled
   * QoS 1 subscriber that was a 1 KiB copy and a buffer object per message (issue #12).
   */
  private keptPayload: Buffer | null = null;
  private keptProps: Buffer | null = null;

  constructor(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, props: Buffer | null, expiresAt: number, origin: string) {
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.props = props;
    this.expiresAt = expiresAt;
    this.origin = origin;
  }

  expired(now: number): boolean { return this.expiresAt !== 0 && this.expiresAt <= now; }

  /** Remaining expiry in whole seconds (rounded up so a message is never announced as expired early). */
  remainingExpiry(now: number): number { return Math.max(1, Math.ceil((this.expiresAt - now) / 1000)); }

  /**
   * The payload is already this message's own copy (PublishView.toMessage out of a ring): a
   * later detach() keeps it. Node hands a small allocUnsafe out of its shared pool, so without
   * this detach() took it for a slice of someone's chunk and copied it again: beside a stalled
   * QoS 1 subscriber on another shard, a second 1 KiB copy and buffer per queued message
   * (issue #12, BENCHMARKS.md).
   */
  owned(): this {
    this.keptPayload = this.payload;
    return this;
  }

  /** A message kept beyond this turn must not pin the socket's read chunk it was sliced from. */
  detach(): this {
    if (this.payload !== this.keptPayload) {
      if (this.payload.byteLength < this.payload.buffer.byteLength) this.payload = Buffer.from(this.payload);
      this.keptPayload = this.payload;
    }
    if (this.props !== null && this.props !== this.keptProps) {
      if (this.props.byteLength < this.props.buffer.byteLength) this.props = Buffer.from(this.props);
      this.keptProps = this.props;
    }
    return this;
  }
}

/**
 * Reads the message body shared by inter-shard frames and the session codec: expiry, topic,
 * origin, properties, payload; `flags` carries QoS (bits 0-1) and retain (bit 2).
 */
export function readMessageBody(r: ByteReader, flags: number): Message {
  const expiresAt = r.f64();
  const topic = r.str();
  const origin = r.str();
  const props = r.maybeBytes();
  const payload = r.bytes();
  return new Message(topic, payload, (flags & 3) as 0 | 1 | 2, (flags & 4) !== 0, props, expiresAt, origin);
}

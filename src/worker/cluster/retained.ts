// Retained messages cluster-wide (docs/cluster.md): a JetStream KV bucket, one key per topic,
// is the cluster's one order per topic, as a topic's home shard is the node's. A shard that
// routes a retained publish of its client sets it on its node at once (routing, as without a
// cluster) and puts it in the bucket; shard 0 of every node watches the bucket and sets every
// change on its node through the usual home-shard path (routing/retain-sync.ts), so every
// node's replica and store end at the bucket's last value, its own sets included.
//
// Cut off from NATS the bucket cannot be written, so the writes wait here (defer), one per
// topic (the last set wins, as in the bucket) in the order of each topic's first wait, bounded
// by --cluster-hold-bytes; the publisher is acknowledged on its node's commit, as for a message
// no other node wants. When NATS is back they are written (flush) before the bucket is read
// again, and later sets queue behind them until then (deferring), so no older value of this
// shard lands after a newer one.
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { keyTopic, retainedBucket, topicKey } from '../../shared/cluster/names.ts';
import { watchAll } from '../../shared/cluster/watch.ts';
import type { ShardContext } from '../context.ts';
import { FrameType } from '../peers/frames.ts';
import { PubFlag, PublishView, writePublish } from '../protocol/publish-view.ts';
import type { RetainedSync } from '../routing/retain-sync.ts';
import { Message } from '../session/message.ts';

export class ClusterRetained {
  private readonly ctx: ShardContext;
  private readonly sync: Pick<RetainedSync, 'set'>;
  private kv: KV | null = null;
  private unwatch: (() => void) | null = null;
  private readonly w = new ByteWriter(1024);
  private readonly r = new ByteReader();
  private readonly view = new PublishView();
  /** Writes waiting for NATS, by key: the frame, or null for a clear. */
  private readonly pending = new Map<string, Buffer | null>();
  private pendingBytes = 0;
  private readonly limitBytes: number;

  constructor(ctx: ShardContext, sync: Pick<RetainedSync, 'set'>) {
    this.ctx = ctx;
    this.sync = sync;
    this.limitBytes = ctx.config.clusterHoldBytes;
  }

  /** Writes wait for NATS: a set now must wait behind them. */
  get deferring(): boolean { return this.pending.size !== 0; }

  /**
   * Opens the bucket; shard 0 also reads it into its node (before the shard says it is ready,
   * and again when NATS is back: what changed meanwhile is set then).
   */
  async start(nc: NatsConnection): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    this.kv = await new Kvm(nc).create(retainedBucket(this.ctx.config.clusterName), { history: 1 });
    if (this.ctx.id === 0) this.unwatch = await watchAll(this.kv, (e) => this.changed(e));
  }

  stop(): void { this.unwatch?.(); this.unwatch = null; }

  /** A retained publish (or clear) of a client of this shard: settles once the bucket has it. */
  put(msg: Message): Promise<void> {
    const kv = this.kv;
    if (kv === null) return Promise.reject(new Error('not connected to NATS'));
    const key = topicKey(msg.topic);
    if (msg.payload.length === 0) return kv.delete(key);
    return kv.put(key, this.encode(msg)).then(() => {});
  }

  /** The bucket's write of `msg` waits for NATS (flush); false past --cluster-hold-bytes (not kept). */
  defer(msg: Message): boolean {
    const key = topicKey(msg.topic);
    const value = msg.payload.length === 0 ? null : this.encode(msg);
    const old = this.pending.get(key);
    const bytes = this.pendingBytes - (old === undefined ? 0 : key.length + (old?.length ?? 0)) + key.length + (value?.length ?? 0);
    if (bytes > this.limitBytes) return false;
    this.pending.set(key, value);
    this.pendingBytes = bytes;
    return true;
  }

  /**
   * NATS is back: the waiting writes go to the bucket, oldest topic first, each taken out once
   * written (a newer set of it meanwhile stays for the next round); rejects when the bucket
   * does not take one yet (the caller tries again), what was written staying written.
   */
  async flush(): Promise<void> {
    const kv = this.kv;
    if (kv === null) throw new Error('not connected to NATS');
    while (this.pending.size !== 0) {
      const [key, value] = this.pending.entries().next().value!;
      if (value === null) await kv.delete(key); else await kv.put(key, value);
      if (this.pending.get(key) !== value) continue;
      this.pending.delete(key);
      this.pendingBytes -= key.length + (value?.length ?? 0);
    }
  }

  private encode(msg: Message): Buffer {
    const w = this.w.reset();
    writePublish(w, msg.qos | PubFlag.RETAIN, 0, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, null);
    return Buffer.from(w.buf.subarray(0, w.pos));
  }

  private changed(e: KvWatchEntry): void {
    try {
      let msg: Message;
      if (e.operation === 'PUT') {
        const r = this.r.at(e.value, 0, e.value.length);
        if (r.u8() !== FrameType.PUBLISH) throw new RangeError('not a PUBLISH frame');
        msg = this.view.read(r, this.ctx.id).toMessage();
        if (msg.expired(Date.now())) return;
      } else {
        msg = new Message(keyTopic(e.key), Buffer.alloc(0), 0, true, null, 0, '');
      }
      void this.sync.set(msg);
    } catch (err) {
      this.ctx.log.warn({ err, key: e.key }, 'a retained message of the cluster could not be read; skipped');
    }
  }
}

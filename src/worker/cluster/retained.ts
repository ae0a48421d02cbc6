// Retained messages cluster-wide (docs/cluster.md): a JetStream KV bucket, one key per topic,
// is the cluster's one order per topic, as a topic's home shard is the node's. A shard that
// routes a retained publish of its client sets it on its node at once (routing, as without a
// cluster) and puts it in the bucket; shard 0 of every node watches the bucket and sets every
// change on its node through the usual home-shard path (routing/retain-sync.ts), so every
// node's replica and store end at the bucket's last value, its own sets included.
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

  constructor(ctx: ShardContext, sync: Pick<RetainedSync, 'set'>) {
    this.ctx = ctx;
    this.sync = sync;
  }

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
    const w = this.w.reset();
    writePublish(w, msg.qos | PubFlag.RETAIN, 0, msg.expiresAt, msg.topic, msg.origin, msg.props, msg.payload, null);
    return kv.put(key, Buffer.from(w.buf.subarray(0, w.pos))).then(() => {});
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

// Ring occupancy read by main straight from the rings' shared indices: main allocated every
// ring (src/main/shards.ts), so a scrape asks no shard anything.
import { SpscRing } from '../../shared/ring/index.ts';

/** What the metrics need of the shard supervisor's rings. */
export interface RingSource {
  readonly count: number;
  /** The ring `from` writes and `to` reads; null when from === to. Replaced when a shard restarts. */
  ringBuffer(from: number, to: number): SharedArrayBuffer | null;
}

export class RingGauges {
  private readonly source: RingSource;
  readonly capacity: number;
  // One read-only view per ring buffer; a restarted shard's new rings get new views.
  private readonly views = new WeakMap<SharedArrayBuffer, SpscRing>();

  constructor(source: RingSource, capacity: number) {
    this.source = source;
    this.capacity = capacity;
  }

  /** Bytes written and not yet read in the ring from -> to (0 for from === to). */
  usedBytes(from: number, to: number): number {
    const sab = this.source.ringBuffer(from, to);
    if (sab === null) return 0;
    let ring = this.views.get(sab);
    if (ring === undefined) {
      ring = new SpscRing(sab, 0, this.capacity);
      this.views.set(sab, ring);
    }
    return ring.usedBytes();
  }
}

// Checks one (publisher, subscriber) stream of sequence numbers: what arrived once, twice,
// or after a later one. Loss is not decided here: only the sender knows how many it sent,
// so lost = expected − unique, computed when the run ends.
export interface StreamCounts {
  received: number;
  unique: number;
  duplicated: number;
  outOfOrder: number;
}

/** Above this many open gaps a stream stops remembering them (late arrivals then count as duplicates). */
const MAX_GAPS = 1 << 20;

export class SeqTracker implements StreamCounts {
  received = 0;
  unique = 0;
  duplicated = 0;
  outOfOrder = 0;
  /** Next sequence number expected in order. */
  private next = 0;
  /** Sequence numbers skipped over and not seen yet. */
  private gaps: Set<number> | null = null;

  see(seq: number): void {
    this.received++;
    if (seq === this.next) {
      this.next++;
      this.unique++;
      return;
    }
    if (seq > this.next) {
      const gaps = (this.gaps ??= new Set());
      for (let s = this.next; s < seq && gaps.size < MAX_GAPS; s++) gaps.add(s);
      this.next = seq + 1;
      this.unique++;
      return;
    }
    if (this.gaps !== null && this.gaps.delete(seq)) {
      this.outOfOrder++;
      this.unique++;
    } else {
      this.duplicated++;
    }
  }
}

/** Trackers of every publisher one subscriber hears from, keyed by publisher id. */
export class StreamSet implements StreamCounts {
  received = 0;
  unique = 0;
  duplicated = 0;
  outOfOrder = 0;
  private readonly streams = new Map<number, SeqTracker>();

  see(publisher: number, seq: number): void {
    let t = this.streams.get(publisher);
    if (t === undefined) {
      t = new SeqTracker();
      this.streams.set(publisher, t);
    }
    const before = t.unique;
    const dup = t.duplicated;
    const ooo = t.outOfOrder;
    t.see(seq);
    this.received++;
    this.unique += t.unique - before;
    this.duplicated += t.duplicated - dup;
    this.outOfOrder += t.outOfOrder - ooo;
  }
}

export function sumCounts(parts: Iterable<StreamCounts>): StreamCounts {
  const total: StreamCounts = { received: 0, unique: 0, duplicated: 0, outOfOrder: 0 };
  for (const p of parts) {
    total.received += p.received;
    total.unique += p.unique;
    total.duplicated += p.duplicated;
    total.outOfOrder += p.outOfOrder;
  }
  return total;
}

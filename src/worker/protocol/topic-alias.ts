// Outbound Topic Aliases (MQTT 5, 3.3.2.3.4): the broker → client map of one connection, used
// only when the client's CONNECT allowed aliases (Topic Alias Maximum > 0). Least recently used
// topics give up their alias to new ones, so a connection whose topics change keeps the gain.
// An alias is committed only once the PUBLISH that sets it is really sent (one too large for
// the client is not), so the client always knows every alias it is sent without a topic.
export class OutboundAliases {
  private readonly max: number;
  private readonly byTopic = new Map<string, number>(); // insertion order = recency (oldest first)

  constructor(max: number) { this.max = max; }

  /** The alias `topic` has now (0: none: the PUBLISH must carry the topic). */
  get(topic: string): number { return this.byTopic.get(topic) ?? 0; }

  /** The alias `topic` would get if it is sent now with its name: a free one, or the least recently used. */
  candidate(): number {
    if (this.byTopic.size < this.max) return this.byTopic.size + 1;
    const oldest = this.byTopic.entries().next().value;
    return oldest === undefined ? 0 : oldest[1];
  }

  /** A PUBLISH with `alias` for `topic` was sent: record it (and its use, for recency). */
  commit(topic: string, alias: number): void {
    const had = this.byTopic.get(topic);
    if (had === alias) {
      // Recency matters only once every alias is taken (then the oldest is reused).
      if (this.byTopic.size >= this.max) { this.byTopic.delete(topic); this.byTopic.set(topic, alias); }
      return;
    }
    if (this.byTopic.size >= this.max) {
      for (const [t, a] of this.byTopic) {
        if (a === alias) { this.byTopic.delete(t); break; }
      }
    }
    this.byTopic.set(topic, alias);
  }
}

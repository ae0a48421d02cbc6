// Shared subscriptions across nodes (docs/cluster.md): the other nodes' member counts per
// group, and the weighted pick of the node that delivers a message to a group, as a publishing
// shard picks between shards (routing.ts pickShard) one level up. The node picked then picks
// its shard and its member.
import { TopicTrie } from '../../shared/topics/trie.ts';

interface NodeGroup { filter: string; counts: Int32Array; next: number }

export class NodeShares {
  private readonly groups = new Map<string, NodeGroup>();
  /** filter → group keys with members on other nodes. */
  private readonly trie = new TopicTrie<string>();
  private readonly slots: number;
  /** Per node slot: the group keys of the message being forwarded that picked it. */
  readonly picked: (string[] | null)[];
  private readonly matched: string[] = [];
  private readonly collect = (key: string): void => { this.matched.push(key); };

  constructor(slots: number) {
    this.slots = slots;
    this.picked = new Array(slots).fill(null);
  }

  get size(): number { return this.groups.size; }

  /** Node `slot` now has `count` members of group `key` (group + NUL + filter). */
  set(slot: number, key: string, count: number): void {
    let g = this.groups.get(key);
    if (g === undefined) {
      if (count === 0) return;
      g = { filter: key.slice(key.indexOf('\u0000') + 1), counts: new Int32Array(this.slots), next: 0 };
      this.groups.set(key, g);
      this.trie.add(g.filter, key, key);
    }
    g.counts[slot] = count;
    if (g.counts.every((c) => c === 0)) { this.groups.delete(key); this.trie.remove(g.filter, key); }
  }

  /** Node `slot` is down: its members count no more. */
  drop(slot: number): void { for (const [key] of [...this.groups]) this.set(slot, key, 0); }

  /**
   * One pick for group `key`, over `localTotal` members here and the up nodes' (`up`: slot
   * bitmask): true when it went to another node (recorded in `picked`).
   */
  pick(key: string, localTotal: number, up: number): boolean {
    const g = this.groups.get(key);
    if (g === undefined) return false;
    let remote = 0;
    for (let i = 0; i < this.slots; i++) if ((up & (1 << i)) !== 0) remote += g.counts[i]!;
    if (remote === 0) return false;
    let r = g.next++ % (localTotal + remote) - localTotal;
    if (r < 0) return false;
    for (let i = 0; i < this.slots; i++) {
      if ((up & (1 << i)) === 0) continue;
      r -= g.counts[i]!;
      if (r < 0) { (this.picked[i] ??= []).push(key); return true; }
    }
    return false;
  }

  /** Some other node has members of a group matching `topic`. */
  matches(topic: string): boolean {
    if (this.groups.size === 0) return false;
    this.matched.length = 0;
    this.trie.match(topic, this.collect);
    return this.matched.length > 0;
  }

  /** The groups matching `topic` that have no members on this node (`local` has the others): picked here. */
  pickRemoteOnly(topic: string, local: ReadonlyMap<string, unknown>, up: number): void {
    this.matched.length = 0;
    this.trie.match(topic, this.collect);
    for (const key of this.matched) if (!local.has(key)) this.pick(key, 0, up);
  }
}

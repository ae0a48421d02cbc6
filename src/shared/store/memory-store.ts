// The 'memory' store: plain Maps, no files, for tests and benches that must not measure a disk.
//
// Each thread that creates one gets its own, empty store: nothing is shared between shards
// and nothing survives the process. So in memory mode the broker core must not use the
// store to pass anything between threads: a takeover has to carry the session state in its
// hand-off frame, retained messages reach the other shards only if the broker replicates
// them, and a shard restart loses whatever that shard held.
//
// Records are copied on the way in and out, so neither side can change the other's objects;
// payload and property Buffers are shared, not copied, because the broker never mutates a
// received buffer.
import type { OutboundEntry, Store, StoredMessage, StoredSession, StoreStats } from './types.ts';
import { StoreError, StoreErrorCode } from './errors.ts';

const done: Promise<void> = Promise.resolve();

export class MemoryStore implements Store {
  readonly persistence = 'memory' as const;
  private readonly retained = new Map<string, StoredMessage>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly outbound = new Map<string, Map<number, OutboundEntry>>();
  private readonly inbound = new Map<string, Set<number>>();
  private readonly banned = new Set<string>();

  // Refusing use outside open()..close() like the LMDB store does keeps tests in memory
  // mode honest about the broker's start and stop order. The data outlives close(), as on disk.
  private isOpen = false;

  async open(): Promise<void> {
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  private live(): void {
    if (!this.isOpen) throw closedError();
  }

  putRetained(topic: string, msg: StoredMessage | null): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    if (msg === null) this.retained.delete(topic);
    else this.retained.set(topic, { ...msg });
    return done;
  }

  *loadRetained(): Iterable<StoredMessage> {
    this.live();
    const now = Date.now();
    // A snapshot, like LMDB's read transaction: writes made while the caller iterates are not seen.
    for (const [topic, msg] of [...this.retained]) {
      if (msg.expiresAt !== 0 && msg.expiresAt <= now) {
        if (this.retained.get(topic) === msg) this.retained.delete(topic);
      }
      else yield { ...msg };
    }
  }

  putSession(s: StoredSession): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    this.sessions.set(s.clientId, copySession(s));
    return done;
  }

  getSession(clientId: string): StoredSession | undefined {
    this.live();
    const s = this.sessions.get(clientId);
    return s && copySession(s);
  }

  deleteSession(clientId: string): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    this.sessions.delete(clientId);
    this.outbound.delete(clientId);
    this.inbound.delete(clientId);
    return done;
  }

  *listSessions(): Iterable<StoredSession> {
    this.live();
    for (const s of this.sessions.values()) yield copySession(s);
  }

  putOutbound(clientId: string, seq: number, e: OutboundEntry): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    let q = this.outbound.get(clientId);
    if (!q) this.outbound.set(clientId, (q = new Map()));
    q.set(seq, copyEntry(e));
    return done;
  }

  deleteOutbound(clientId: string, seq: number): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    const q = this.outbound.get(clientId);
    if (q && q.delete(seq) && q.size === 0) this.outbound.delete(clientId);
    return done;
  }

  loadOutbound(clientId: string): Array<[seq: number, e: OutboundEntry]> {
    this.live();
    const q = this.outbound.get(clientId);
    if (!q) return [];
    // Map order is insertion order, not seq order: a rewritten entry keeps its old slot.
    return [...q.keys()].sort((a, b) => a - b).map((seq) => [seq, copyEntry(q.get(seq)!)]);
  }

  putInboundQos2(clientId: string, packetId: number): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    let ids = this.inbound.get(clientId);
    if (!ids) this.inbound.set(clientId, (ids = new Set()));
    ids.add(packetId);
    return done;
  }

  deleteInboundQos2(clientId: string, packetId: number): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    const ids = this.inbound.get(clientId);
    if (ids && ids.delete(packetId) && ids.size === 0) this.inbound.delete(clientId);
    return done;
  }

  loadInboundQos2(clientId: string): number[] {
    this.live();
    return [...(this.inbound.get(clientId) ?? [])].sort((a, b) => a - b);
  }

  putBanned(clientId: string, banned: boolean): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    if (banned) this.banned.add(clientId); else this.banned.delete(clientId);
    return done;
  }

  loadBanned(): string[] {
    this.live();
    return [...this.banned];
  }

  stats(): StoreStats {
    this.live();
    let bytes = 0;
    for (const m of this.retained.values()) bytes += messageBytes(m);
    for (const q of this.outbound.values()) for (const e of q.values()) bytes += messageBytes(e.msg);
    return { retained: this.retained.size, sessions: this.sessions.size, bytes };
  }

  flushed(): Promise<void> {
    return done;
  }

  usedBytes(): number {
    return this.isOpen ? this.stats().bytes : 0;
  }
}

function closedError(): StoreError {
  return new StoreError(StoreErrorCode.CLOSED, 'memory store is not open');
}

function copySession(s: StoredSession): StoredSession {
  return { ...s, subscriptions: s.subscriptions.map((sub) => ({ ...sub })), will: s.will && { ...s.will } };
}

function copyEntry(e: OutboundEntry): OutboundEntry {
  return { packetId: e.packetId, state: e.state, msg: { ...e.msg } };
}

function messageBytes(m: StoredMessage): number {
  return m.topic.length + m.payload.length + (m.properties?.length ?? 0);
}

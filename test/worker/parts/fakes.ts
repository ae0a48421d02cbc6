// Test doubles for constructing a shard's parts alone (routing, delivery, durability, registry,
// moves): a context, peer links that keep the frames they were given (decoded with the frame
// families' own decoders), connections that keep what was sent to them, and the memory store.
import pino from 'pino';
import { ByteReader, ByteWriter } from '../../../src/shared/bytes.ts';
import { DEFAULTS, type BrokerConfig } from '../../../src/shared/config.ts';
import { StatsBlock } from '../../../src/shared/stats.ts';
import { MemoryStore } from '../../../src/shared/store/memory-store.ts';
import type { ShardContext } from '../../../src/worker/context.ts';
import { HookRegistry } from '../../../src/worker/hooks/registry.ts';
import { ConnState } from '../../../src/worker/net/conn-state.ts';
import type { Connection } from '../../../src/worker/net/connection.ts';
import type { PeerLink } from '../../../src/worker/peers/peers.ts';
import { Session } from '../../../src/worker/session/session.ts';
import type { Subscription } from '../../../src/worker/session/subscription.ts';
import { withPacketId } from '../../../src/worker/protocol/publish-codec.ts';

export function context(count = 1, id = 0, config: Partial<BrokerConfig> = {}): ShardContext {
  return { id, count, config: { ...DEFAULTS, ...config }, stats: new StatsBlock(count), log: pino({ level: 'silent' }), hooks: new HookRegistry() };
}

export interface SentFrame { peer: number; bytes: Buffer }

/** A PeerLink that records each frame per target; barriers complete when `releaseBarriers` is called. */
export class FakePeers implements PeerLink {
  readonly sent: SentFrame[] = [];
  readonly barriers: (() => void)[] = [];
  private readonly w = new ByteWriter(256);
  private readonly ctx: ShardContext;
  constructor(ctx: ShardContext) { this.ctx = ctx; }
  writer(): ByteWriter { return this.w.reset(); }
  commit(peer: number): void { this.sent.push({ peer, bytes: Buffer.from(this.w.buf.subarray(0, this.w.pos)) }); }
  resend(peer: number): void { this.commit(peer); }
  broadcast(): void { for (let i = 0; i < this.ctx.count; i++) if (i !== this.ctx.id) this.commit(i); }
  barrier(done: () => void): void { this.barriers.push(done); }
  releaseBarriers(): void { const b = this.barriers.splice(0); for (const d of b) d(); }
  /** The frames sent so far (then forgotten), each as a reader positioned after its type byte. */
  take(): { peer: number; type: number; r: ByteReader }[] {
    return this.sent.splice(0).map(({ peer, bytes }) => {
      const r = new ByteReader().at(bytes, 0, bytes.length);
      return { peer, type: r.u8(), r };
    });
  }
}

/** A connected client as far as the parts see one: what is sent to it is kept in `sent`. */
export interface FakeConn extends Connection { sent: Buffer[]; disconnected: number[] }

export function fakeConn(clientId: string, version = 4): FakeConn {
  const c = {
    clientId, version, state: ConnState.CONNECTED as number, gated: 0, congested: false, behindSince: 0, drainedAtMark: 0, written: 0, slow: false, slowWindows: 0, drainRate: 0, slowSince: 0, drainedAtSlow: 0, probes: 0,
    clientReceiveMax: 65535, clientMaxPacket: 0, clientTopicAliasMax: 0, outboundAliases: null,
    session: null, cleanStart: true, token: 0, sent: [] as Buffer[], disconnected: [] as number[],
    disconnectNormal: false, willOnDisconnect: false,
    send(buf: Buffer): void { this.sent.push(Buffer.from(buf)); },
    // The two ways a PUBLISH goes into a real connection's output without a buffer of its own.
    sendWithId(template: Buffer, idOffset: number, packetId: number): void { this.sent.push(withPacketId(template, idOffset, packetId, false)); },
    claim(n: number): Buffer { const b = Buffer.alloc(n); this.sent.push(b); return b; }, // filled by the caller at outAt
    outAt: 0,
    backlog(): number { return 0; },
    drained(): number { return 0; },
    disconnect(reason: number): void { this.disconnected.push(reason); this.state = ConnState.CLOSED; },
    close(): void { this.state = ConnState.CLOSED; },
  };
  return c as unknown as FakeConn;
}

/** A session with a connection (or offline when `conn` is null); expiry 0 = not persistent. */
export function session(clientId: string, conn: FakeConn | null, version = 4, expiry = 0): Session {
  const s = new Session(clientId, version, expiry);
  s.conn = conn;
  if (conn !== null) conn.session = s;
  return s;
}

export function subscribe(s: Session, filter: string, qos: 0 | 1 | 2, extra: Partial<Subscription> = {}): Subscription {
  const sub: Subscription = {
    session: s, filter, topicFilter: filter, group: null, qos, noLocal: false, retainAsPublished: false,
    retainHandling: 0, subscriptionId: 0, guard: null, ...extra,
  };
  s.writableSubs().set(filter, sub);
  return sub;
}

/**
 * The memory store as a store on disk would look to the gate (persistence 'fast'): its commits
 * complete only when the test says so (`commit()`), in order.
 */
export class GatedStore extends MemoryStore {
  private waiting: (() => void)[] = [];
  constructor() {
    super();
    Object.defineProperty(this, 'persistence', { value: 'fast' });
  }
  override flushed(): Promise<void> { return new Promise((resolve) => this.waiting.push(resolve)); }
  commit(): void { const w = this.waiting.splice(0); for (const r of w) r(); }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

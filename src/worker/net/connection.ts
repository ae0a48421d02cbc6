// The net room: sockets to whole packets and back. Accepting (acceptor.ts: SO_REUSEPORT in the
// shard; transports.ts: TLS and WebSocket handshakes, ws-socket.ts), reading (socket-reader.ts:
// onread into one buffer per thread), the connection itself (framing, one corked write per turn
// through outbox.ts, close paths), flow control between publishers and congested subscribers
// (backpressure.ts) and the keepalive sweep. It knows packets only as bytes: their meaning is
// the protocol room's.
import { Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { Framer } from '../../shared/protocol/framer.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import { Stat } from '../../shared/stats.ts';
import type { Session } from '../session/session.ts';
import type { OutboundAliases } from '../protocol/topic-alias.ts';
import type { ShardParts } from '../parts.ts';
import { Outbox, releaseSlab } from './outbox.ts';
import type { Source } from './backpressure.ts';
import type { ClientSocket } from './client-socket.ts';
import { ConnState, type ConnStateValue } from './conn-state.ts';
import { ReadSlab, acceptedSocket, setReading, userBufferSocket, type AcceptedHandle } from './socket-reader.ts';
import { parseWhole } from '../protocol/parse.ts';
import { CONNECTION_BYTES, released } from './reclaim.ts';
import { writableHandle, type AsyncWriteOwner } from './handle-write.ts';


/** What a whole packet from a client goes to (the protocol room's dispatcher, set by the wiring). */
export type PacketDispatch = (conn: Connection, buf: Buffer, off: number, len: number) => void;

let dispatch: PacketDispatch = () => { throw new Error('no packet dispatcher set (useDispatcher)'); };

/** Sets the dispatcher every connection of this thread hands its packets to (once, at start). */
export function useDispatcher(d: PacketDispatch): void { dispatch = d; }

/**
 * One client connection: reads bytes into whole packets, hands them to the dispatcher, and
 * batches everything written in one event-loop turn into a single corked write (writev).
 *
 * Its state, by concern: the net side (socket, framing, this turn's output), the protocol
 * state of the client (what CONNECT set up), the client's own v5 limits, flow control
 * (backpressure.ts) and the commit gate's count (durability.ts). The fields stay on the object
 * itself, not in sub-objects: delivery reads several of them per message and subscriber.
 */
export class Connection implements AsyncWriteOwner {
  // ---- net: the socket and its bytes
  readonly shard: ShardParts;
  readonly socket: ClientSocket;
  readonly framer: Framer;
  /** This turn's output (one write per turn, see outbox.ts). */
  readonly out = new Outbox();
  /** A plain TCP socket: a write that completed synchronously holds no reference to its buffer. */
  private readonly reuseSlabs: boolean;
  /**
   * Whether the Writable stream may hold bytes of this socket: TLS and WebSocket always; plain
   * TCP only once a turn went through it (writeDirect had no handle). Until then its
   * writableLength is 0 and is not asked (a stream getter per flush, twice).
   */
  private streamWrites: boolean;
  private flushScheduled = false;
  /** Bytes written straight to the handle that libuv still holds (handle-write.ts). */
  private handleHeld = 0;
  /** Packets that arrived while the CONNECT waits for its session or an auth hook (deferPackets). */
  private deferred: Buffer[] | null = null;
  /** When the last read came: the keepalive sweep, and the receive time of the PUBLISHes it brought (handlers/publish.ts). */
  lastRx: number;
  connectedAt: number;
  /** This connection's own traffic, for the admin API's client view (two adds per read/flush). */
  bytesReceived = 0;
  bytesSent = 0;

  // ---- protocol state of the client
  state: ConnStateValue = ConnState.NEW;
  version = 4;
  clientId = '';
  /** The CONNECT's user name ('' without one): logs and the admin API's client view. */
  username = '';
  session: Session | null = null;
  token = 0;                   // claim token of this connection's ownership (registry.ts)
  cleanStart = true;
  keepaliveMs = 0;
  inboundAliases: Map<number, string> | null = null;
  /** The last PUBLISH topic this client sent, when plain ASCII (decodePublish's `prev`). */
  lastTopic = '';
  inboundPending = 0;          // QoS 1/2 received and not yet completed (Receive Maximum)
  disconnectNormal = false;    // DISCONNECT received: no will
  willOnDisconnect = false;    // v5 DISCONNECT 0x04
  closeReason = 0;             // why the server closed it (a DISCONNECT reason code, also for 3.1.1), for the log line
  bridge = false;              // CONNECT's level had Mosquitto's bridge flag (handlers/connect.ts)
  problemInfo = true;          // v5 Request Problem Information: 0 = no Reason String / User Properties on acks [MQTT-3.1.2-29]

  // ---- client limits: what a v5 client set in CONNECT for what it receives
  clientReceiveMax = 65535;
  clientMaxPacket = 0;         // 0 = no limit
  clientTopicAliasMax = 0;
  outboundAliases: OutboundAliases | null = null; // made on first use when clientTopicAliasMax > 0

  // ---- flow control (backpressure.ts): whether the socket is congested and since when, who
  // waits for its drain, how many congested subscribers this connection's socket waits for
  // (pausedBy), and whether it was declared slow
  congested = false;
  /** When it fell behind (0: it is not), and drained() then: the window backpressure.ts judges. */
  behindSince = 0;
  drainedAtMark = 0;
  /** Bytes handed to the socket so far. */
  written = 0;
  slow = false;
  slowWindows = 0;             // rate windows in a row it went slower than the bound (backpressure.ts)
  drainRate = 0;               // its drain rate over several windows, bytes/ms (backpressure.ts)
  slowSince = 0;               // when it was last judged slow, and drained() then (backpressure.ts)
  drainedAtSlow = 0;
  probationLevel = 0;          // of its current or last slow period, and how long that period lasts at least (probation.ts)
  probationMs = 0;
  returnedAt = 0;              // when its last slow period ended (0: none did)
  probeSpent = false;          // a probe took it back since its probation was last none (backpressure.ts staysSlow)
  waiters: Source[] | null = null;
  lastWaiter: Source | null = null;
  spillWaiting = false;
  slowTimer: NodeJS.Timeout | null = null;
  pausedBy = 0;
  /** What it cost others, logged when a client judged slow goes (backpressure.ts `closed`). */
  holds = 0;                   // times a source was made to wait for it
  holdsAfterSlow = 0;          // of those, after it was first judged slow (one per crossing of the mark: hundreds for a client taken back)
  returns = 0;                 // of its slow periods, those that ended with it waited for again (taken back, or caught up)
  slowJudged = 0;              // times it was judged slow
  probes = 0;                  // of its slow periods, those that ended in a probe near its queue bounds
  maxProbationLevel = 0;       // the highest probation level it reached (probation.ts)
  holdStart = 0;               // when the current wait for it began (0: none)
  longestHoldMs = 0;

  /** What is still read (and dropped) after close(), to see the client's own FIN (readAfterClose). */
  private closedReadBudget = CLOSED_READ_BUDGET;

  // ---- commit gate (durability.ts)
  gated = 0;                   // packets of this connection waiting in the gate

  constructor(shard: ShardParts, raw: ClientSocket) {
    this.shard = shard;
    // Plain TCP: reads go straight from libuv to onRead (socket-reader.ts). TLS, WebSocket: 'data' events.
    const direct = userBufferSocket(raw, onSocketRead);
    const socket: ClientSocket = this.socket = direct ?? raw;
    this.lastRx = this.connectedAt = Date.now();
    this.reuseSlabs = socket.constructor === Socket;
    this.streamWrites = !this.reuseSlabs;
    this.framer = new Framer(shard.config.maxPacketSize, (b, o, l) => this.onPacket(b, o, l), (code) => this.onFramerError(code));
    // No setNoDelay here: the listener set TCP_NODELAY on the descriptor at accept (it moves
    // with the socket), and another setsockopt() per connection was 2.6% of a CONNECT's CPU.
    // Shared listeners (EventEmitter calls them with the socket as `this`) instead of four
    // closures per connection: idle connections are most of a large broker's memory.
    (socket as ConnSocket)[kConn] = this;
    if (direct === null) socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    setReading(socket, true);
  }

  /** Peer address for logs (computed when asked: a string per idle connection adds up). */
  get remote(): string { return `${this.socket.remoteAddress}:${this.socket.remotePort}`; }

  /** Bytes read into the thread's read buffer: kept in the slab, then framed. */
  onRead(nread: number, buf: Uint8Array): void {
    if (this.state === ConnState.CLOSED) { this.readAfterClose(nread); return; }
    const start = slab.keep(buf, nread);
    // Everything this read makes the shard send (the reply, a fan-out) goes out at its end.
    turn.open++;
    try {
      this.onData(slab.buf, start, start + nread);
    } finally {
      if (--turn.open === 0) flushTurn();
    }
  }

  onData(chunk: Buffer, start = 0, end = chunk.length): void {
    if (this.state === ConnState.CLOSED) { this.readAfterClose(end - start); return; }
    const shard = this.shard;
    this.lastRx = Date.now();
    shard.stats.add(shard.id, Stat.BYTES_RECEIVED, end - start);
    this.bytesReceived += end - start;
    const bp = shard.bp;
    bp.current = this;
    try {
      this.framer.push(chunk, start, end);
    } finally {
      bp.current = null;
    }
    // Something we published went to a congested subscriber: read no more until it drains.
    if (this.pausedBy > 0 && (this.state as ConnStateValue) !== ConnState.CLOSED) setReading(this.socket, false);
  }

  onDrain(): void {
    this.congested = false;
    const s = this.session;
    // The queue refills the socket; then backpressure.ts judges whether it has caught up.
    if (s !== null) this.shard.delivery.pump(s);
    this.shard.bp.settle(this, Date.now());
  }

  /** More than socketHighWater is buffered: congested from `now` (backpressure.ts). */
  markCongested(now: number): void {
    this.congested = true;
    this.shard.bp.behind(this, now);
  }

  /** Bytes the socket has taken from us and sent on (the rate backpressure.ts judges). */
  drained(): number { return this.written - this.streamLength() - this.handleHeld; }

  /** What the Writable stream holds of this socket's bytes (0 while only writeDirect wrote). */
  private streamLength(): number { return this.streamWrites ? this.socket.writableLength : 0; }

  /**
   * socket.destroyed, for plain TCP as a field load: net.Socket's _destroy drops the handle in
   * the same call that sets destroyed (the deferred close that keeps it is TLS's), where the
   * stream's `destroyed` is three getters, once per flush.
   */
  private socketGone(): boolean {
    return this.reuseSlabs ? (this.socket as { _handle?: object | null })._handle == null : this.socket.destroyed;
  }

  private onPacket(buf: Buffer, off: number, len: number): void {
    if (this.state === ConnState.CLOSED) return;
    if (this.deferred !== null) {
      // Packets pipelined behind CONNECT wait until the session is ready.
      this.deferred.push(Buffer.from(buf.subarray(off, off + len)));
      return;
    }
    this.shard.stats.add(this.shard.id, Stat.PACKETS_RECEIVED, 1);
    dispatch(this, buf, off, len);
  }

  private onFramerError(code: string): void {
    const reason = code === 'PACKET_TOO_LARGE' ? Reason.PACKET_TOO_LARGE : Reason.MALFORMED_PACKET;
    this.protocolError(reason, `framing: ${code}`);
  }

  /**
   * Defers further packets (and stops reading) while the CONNECT waits for its session (or an
   * auth hook's answer). `pause` false defers without stopping the reads, for a wait that may
   * end before this call returns (a claim the home shard is: handlers/connack.ts); its caller
   * pauses if it did not (pauseDeferred).
   */
  deferPackets(pause = true): void {
    if (this.deferred === null) this.deferred = []; // already deferring (an auth hook's wait): keep them
    if (pause) setReading(this.socket, false);
  }

  /** Still deferring after deferPackets(false): stop reading until resumePackets. */
  pauseDeferred(): void {
    if (this.deferred !== null && this.state !== ConnState.CLOSED) setReading(this.socket, false);
  }

  /**
   * Holds the packet being dispatched, first in line, with those after it, until resumePackets
   * dispatches them again (the shard's CONNECT budget: protocol/handlers/connect-budget.ts).
   */
  holdPacket(buf: Buffer, off: number, len: number): void {
    this.deferPackets();
    this.deferred!.unshift(Buffer.from(buf.subarray(off, off + len)));
  }

  resumePackets(): void {
    const pending = this.deferred;
    this.deferred = null;
    if (pending !== null) {
      for (let i = 0; i < pending.length; i++) {
        if (this.state === ConnState.CLOSED) return;
        // A resumed packet made us defer again (an auth hook answering later): the rest wait, in order.
        const again = this.deferred as Buffer[] | null; // dispatch may have set it
        if (again !== null) { again.unshift(...pending.slice(i)); return; }
        const p = pending[i]!;
        dispatch(this, p, 0, p.length);
      }
      if ((this.deferred as Buffer[] | null) !== null) return;
    }
    if (this.state !== ConnState.CLOSED && this.pausedBy === 0) setReading(this.socket, true);
  }

  /**
   * This connection has had its share of the turn: its further packets (the rest of this read
   * too) wait until the event loop has served the others (a large SUBSCRIBE, say).
   */
  yieldTurn(): void {
    if (this.deferred !== null) return; // already waiting (a claim, an auth hook): that resume comes
    this.deferPackets();
    setImmediate(resumeConnection, this);
  }

  /** A subscriber this connection waited for drained (backpressure.ts). */
  unpause(): void {
    if (this.pausedBy > 0) this.pausedBy--;
    if (this.pausedBy === 0 && this.deferred === null && this.state !== ConnState.CLOSED) setReading(this.socket, true);
  }

  /** Parses a non-PUBLISH packet with mqtt-packet (reference codec). Throws on malformed input. */
  parse(buf: Buffer, off: number, len: number): mqttPacket.Packet { return parseWhole(this.version, buf, off, len); }

  /** The version is known after CONNECT; later packets are decoded with it. */
  setVersion(version: number): void { this.version = version; }

  send(buf: Buffer): void {
    if (this.state === ConnState.CLOSED) return;
    this.out.append(buf);
    if (!this.flushScheduled) this.scheduleFlush();
  }

  /**
   * Sends a PUBLISH straight from `src[off, off + len)` (a peer shard's ring) with its first
   * byte set to `b0`: copied into this turn's output, so the source may be reused on return.
   */
  sendPatched(src: Uint8Array, off: number, len: number, b0: number): void {
    if (this.state === ConnState.CLOSED) return;
    this.out.appendPatched(src, off, len, b0);
    if (!this.flushScheduled) this.scheduleFlush();
  }

  /** A QoS 1/2 PUBLISH from a fan-out's shared template with this delivery's packet id (outbox.ts `appendWithId`). */
  sendWithId(template: Buffer, idOffset: number, packetId: number): void {
    if (this.state === ConnState.CLOSED) return;
    this.out.appendWithId(template, idOffset, packetId);
    if (!this.flushScheduled) this.scheduleFlush();
  }

  /**
   * Room for a packet of `n` bytes to encode in place, at `outAt` of the returned buffer
   * (outbox.ts `claim`); null once closed (what send() would have dropped).
   */
  claim(n: number): Buffer | null {
    if (this.state === ConnState.CLOSED) return null;
    const buf = this.out.claim(n);
    if (!this.flushScheduled) this.scheduleFlush();
    return buf;
  }

  /** Where the packet of the last claim() goes. */
  get outAt(): number { return this.out.at; }

  /** As sendPatched, in the MQTT 5 form (outbox.ts `appendAsV5`). */
  sendPatchedV5(src: Uint8Array, off: number, len: number, payloadOff: number, b0: number): void {
    if (this.state === ConnState.CLOSED) return;
    this.out.appendAsV5(src, off, len, payloadOff, b0);
    if (!this.flushScheduled) this.scheduleFlush();
  }

  /**
   * One flush per turn for every connection written to: at the end of the read callback that
   * caused it, else in one nextTick for all of them (ring drains, timers, promise answers).
   */
  private scheduleFlush(): void {
    this.flushScheduled = true;
    turn.dirty[turn.n++] = this;
    if (turn.open === 0 && !turn.tick) { turn.tick = true; process.nextTick(flushTurn); }
  }

  sendPacket(packet: mqttPacket.Packet): void {
    this.send(mqttPacket.generate(packet, { protocolVersion: this.version as 3 | 4 | 5 }));
  }

  /** Bytes queued for this socket and not yet taken by the kernel. */
  backlog(): number { return this.out.bytes + this.streamLength() + this.handleHeld; }

  /**
   * Writes what is queued. `now`: even behind a direct write still in flight (close(): all of
   * it must precede the shutdown); otherwise that write's completion writes it, together with
   * what follows meanwhile (asyncWriteDone).
   */
  flush(now = false): void {
    this.flushScheduled = false;
    const out = this.out;
    if (out.bytes === 0 || this.socketGone()) { out.clear(); return; }
    const sh = this.shard;
    if (this.handleHeld > 0 && !now) {
      // One larger write when the kernel takes more, as the stream coalesces what it buffers
      // (a write per turn into libuv's queue would reach a slow reader as many small segments).
      if (this.backlog() >= HANDLE_HIGH_WATER && !this.congested) this.markCongested(Date.now());
      return;
    }
    sh.stats.add(sh.id, Stat.BYTES_SENT, out.bytes);
    this.bytesSent += out.bytes;
    sh.stats.add(sh.id, Stat.PACKETS_SENT, out.packets);
    this.written += out.bytes;
    const ok = this.writeDirect() ?? this.writeStream();
    if (!ok || this.backlog() >= sh.config.socketHighWater) {
      if (!this.congested) this.markCongested(Date.now());
    } else if (this.congested && this.state !== ConnState.CLOSED) {
      // Congested by bytes of this turn alone (a pump stops at the mark before they are
      // written), and the socket took them: no write is left to end in a 'drain', so this is
      // it, or the queue behind the mark would wait for ever (test/regress/queue-past-high-
      // water-in-one-pump). What the pump writes now joins this turn's flush loop.
      this.onDrain();
    }
  }

  /**
   * The turn's output straight to a plain TCP socket's handle (handle-write.ts), past the
   * Writable stream, which then never holds bytes of this socket (so nothing can overtake
   * them; libuv keeps its queue in order, and end() shuts down after it). Returns whether the
   * socket takes more (as socket.write would), or null when the stream is to write it.
   */
  private writeDirect(): boolean | null {
    if (!this.reuseSlabs) return null;
    const socket = this.socket;
    const handle = writableHandle(socket);
    if (handle === null || this.streamLength() !== 0) return null;
    const held = this.out.writeToHandle(handle, this);
    if (held < 0) { socket.destroy(); return true; } // EPIPE and the like: 'close' follows
    this.handleHeld += held;
    return this.handleHeld < HANDLE_HIGH_WATER;
  }

  /** The turn's output through the Writable stream (TLS, WebSocket, or a TCP socket without its handle). */
  private writeStream(): boolean {
    this.streamWrites = true;
    return this.out.writeTo(this.socket, this.reuseSlabs);
  }

  /**
   * libuv finished a write writeDirect left to it (handle-write.ts): what waited for it goes
   * now, in one write; once nothing is held, this is the stream's 'drain' for direct writes.
   */
  asyncWriteDone(status: number, held: number, slab: Buffer | null): void {
    this.handleHeld -= held;
    if (slab !== null) releaseSlab(slab);
    if (status < 0) { if (!this.socket.destroyed) this.socket.destroy(); return; }
    if (this.handleHeld !== 0 || this.socket.destroyed) return;
    if (this.out.bytes > 0 && !this.flushScheduled) this.flush();
    if (this.congested && this.backlog() === 0 && this.state !== ConnState.CLOSED) this.onDrain();
  }

  /** A protocol violation: v5 gets DISCONNECT with the reason first [MQTT-4.13.1-1]; then close. */
  protocolError(reason: number, message: string): void {
    if (this.state === ConnState.CLOSED) return;
    this.shard.stats.add(this.shard.id, Stat.PROTOCOL_ERRORS, 1);
    this.shard.log.debug({ client: this.clientId, remote: this.remote, reason, message }, 'protocol error');
    if (this.state === ConnState.NEW) {
      this.close();
      return;
    }
    this.disconnect(reason, message);
  }

  /** Server-initiated DISCONNECT (v5 only: 3.1.1 has no server DISCONNECT) then close. */
  disconnect(reason: number, reasonString?: string): void {
    if (this.state === ConnState.CLOSED) return;
    this.closeReason = reason;
    if (this.version === 5 && this.state === ConnState.CONNECTED) {
      const properties = reasonString !== undefined && this.clientMaxPacket === 0 ? { reasonString } : undefined;
      this.sendPacket({ cmd: 'disconnect', reasonCode: reason, properties } as mqttPacket.IDisconnectPacket);
    }
    this.close();
  }

  /** Flush what is queued, then end the socket; the 'close' event does the cleanup. */
  close(): void {
    if (this.state === ConnState.CLOSED) return;
    this.flush(true);
    this.socket.end();
    // A peer that never reads must not keep the socket (and its memory) alive.
    setTimeout(() => { if (!this.socket.destroyed) this.socket.destroy(); }, 2000).unref();
    this.markClosed();
  }

  /**
   * Bytes that arrive once the connection is condemned are never looked at [MQTT-4.13.1-1].
   * A little more is read (and dropped) so that a client which closes too is seen to (its
   * FIN ends the socket at once); past that the socket is not read again, so a client that
   * keeps writing fills only the kernel's buffers until the destroy timer of close().
   */
  private readAfterClose(n: number): void {
    this.closedReadBudget -= n;
    if (this.closedReadBudget <= 0) setReading(this.socket, false);
  }

  private markClosed(): void {
    if (this.state === ConnState.CLOSED) return;
    const wasConnected = this.state === ConnState.CONNECTED;
    this.state = ConnState.CLOSED;
    this.deferred = null;
    this.congested = false;
    this.shard.bp.closed(this, this.shard.log);
    this.shard.connectionClosed(this, wasConnected);
  }

  onClose(): void {
    this.markClosed();
    this.out.clear();
    released(CONNECTION_BYTES, this.shard.log);
  }
}

/** Bytes read and dropped after close() before reading stops: a DISCONNECT's worth of pipelined packets. */
const CLOSED_READ_BUDGET = 64 * 1024;

/** The socket of a handle the shard's listener accepted (acceptor.ts), made to read into connections. */
export function socketOfAccepted(handle: AcceptedHandle): ClientSocket { return acceptedSocket(handle, onSocketRead); }


/**
 * The connections written to in this turn, flushed together (Connection.scheduleFlush): `open`
 * counts read callbacks in progress, `tick` says a nextTick flush is pending.
 */
const turn = { dirty: [] as Connection[], n: 0, open: 0, tick: false };

/** Below what libuv holds of direct writes a connection is not congested (the stream's default high-water mark). */
const HANDLE_HIGH_WATER = 16 * 1024;

function flushTurn(): void {
  turn.tick = false;
  const dirty = turn.dirty;
  // A flush may write to other connections (a drain pumping a queue): they join this loop.
  // Slots are cleared, never truncated (an array length store is a V8 runtime call).
  for (let i = 0; i < turn.n; i++) {
    const c = dirty[i]!;
    dirty[i] = undefined as unknown as Connection;
    c.flush();
  }
  turn.n = 0;
}
function resumeConnection(c: Connection): void { c.resumePackets(); }

const kConn = Symbol('shoal.connection');
type ConnSocket = ClientSocket & { [kConn]: Connection };
function onSocketData(this: ConnSocket, chunk: Buffer): void { this[kConn].onData(chunk); }
function onSocketRead(this: ConnSocket, nread: number, buf: Uint8Array): void { this[kConn].onRead(nread, buf); }
const slab = new ReadSlab();
function onSocketDrain(this: ConnSocket): void { this[kConn].onDrain(); }
function onSocketError(): void { /* 'close' follows; errors of one socket never reach others */ }
function onSocketClose(this: ConnSocket): void { this[kConn].onClose(); }

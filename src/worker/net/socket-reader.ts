// Socket reads without the Readable stream machinery.
//
// A socket transferred from the main thread is rebuilt around its libuv handle with Node's
// `onread` option: libuv reads every socket of this thread into one buffer and calls back
// synchronously, so a read costs no ArrayBuffer, no Buffer object, no Readable push, 'data'
// emit or nextTick. The bytes are then copied into a slab (below) before anything parses them,
// so a view a handler keeps (payload, will, correlation data, a partial packet) is never
// overwritten: slab bytes are written once. pause()/resume() still stop and start reading
// (net.Socket does that for onread sockets), and end of stream, errors and 'close' behave as
// for any socket.
//
// Past that option, Node still calls its stream wrapper (onStreamRead) for every read, which
// refreshes a socket timeout, looks up the stream and calls the callback through it: in a
// ping-pong, once per message. The handle's own `onread` is replaced here by handleRead, which
// calls the callback itself for bytes read and hands everything else (end of stream, an error
// such as ECONNRESET, a destroyed socket, a socket with a timeout) to Node's wrapper, so those
// behave exactly as before. pause()/resume() are unchanged: net.Socket's readStop/readStart on
// the handle, which keeps its `onread`.

import net, { type Socket } from 'node:net';
import util from 'node:util';
import { copyBytes } from '../../shared/ring/copy.ts';
import { streamWrap } from './stream-binding.ts';

/** One read at most this many bytes (libuv's usual suggestion). */
const READ_SIZE = 64 * 1024;
/** Bytes read are copied into slabs of this size; a view kept by a handler pins its slab. */
const SLAB_SIZE = 64 * 1024;

/** Called with the socket as `this` (the object the caller tagged), the bytes in buf[0, nread). */
export type ReadCallback<T = Socket> = (this: T, nread: number, buf: Uint8Array) => void;

let readBuffer: Buffer | null = null;

/**
 * A connection's libuv handle as the shard's own listener accepted it (acceptor.ts), before any
 * net.Socket is made around it: a burst's hundreds of accepts in one poll phase then cost a
 * queue entry each, and its one socket is made when the shard takes it up (acceptedSocket).
 */
export interface AcceptedHandle {
  readonly on?: never;
  setNoDelay(on: boolean): number;
}

/** An accepted handle, not yet a socket (sockets, TLS and WebSocket streams all have `on`). */
export function isAcceptedHandle(x: object): x is AcceptedHandle { return typeof (x as { on?: unknown }).on !== 'function'; }

const kDirect = Symbol('shoal.directRead');

/**
 * The one socket of an accepted handle, reading into `callback` from its first resume() (as
 * userBufferSocket's, which returns it as it is). Made when the shard takes the connection up,
 * not at accept.
 */
export function acceptedSocket<T>(handle: AcceptedHandle, callback: ReadCallback<T>): Socket {
  return directSocket(handle, false, callback);
}

function directSocket<T>(handle: object, allowHalfOpen: boolean, callback: ReadCallback<T>): Socket {
  const buffer = (readBuffer ??= Buffer.allocUnsafeSlow(READ_SIZE));
  const opts = { handle, allowHalfOpen, pauseOnCreate: true, onread: { buffer, callback } };
  const socket = new net.Socket(opts as unknown as net.SocketConstructorOpts);
  (socket as Socket & { [kDirect]?: true })[kDirect] = true;
  if (readState !== null) {
    const h = handle as ReadHandle;
    streamRead ??= h.onread; // Node's onStreamRead, set on the handle by the constructor
    h[kSocket] = socket;
    h[kCallback] = callback as ReadCallback<unknown>;
    h.onread = handleRead;
  }
  return socket;
}

const kSocket = Symbol('shoal.readSocket');
const kCallback = Symbol('shoal.readCallback');

/** A TCP handle whose reads handleRead takes. */
interface ReadHandle {
  onread: (this: ReadHandle, arrayBuffer: unknown) => unknown;
  [kSocket]: Socket;
  [kCallback]: ReadCallback<unknown>;
}

/** The shared words libuv's read callback leaves nread in (null: no binding, Node's wrapper only). */
const readState = streamWrap?.streamBaseState ?? null;
const kReadBytes = streamWrap?.kReadBytesOrError ?? 0;
let streamRead: ReadHandle['onread'] | null = null;

/**
 * The handle's read callback: bytes read go to the callback (the user buffer holds them), as
 * onStreamRead's user-buffer branch does; all else is Node's. `timeout` is undefined until
 * setTimeout() is called, which needs onStreamRead's timer refresh.
 */
function handleRead(this: ReadHandle, arrayBuffer: unknown): unknown {
  const nread = readState![kReadBytes]!;
  const socket = this[kSocket];
  // `_handle === this`: not destroyed (net.Socket's _destroy drops the handle as it sets
  // destroyed), a field load where `destroyed` is three stream getters, once per read.
  if (nread > 0 && socket.timeout === undefined && (socket as { _handle?: unknown })._handle === this) {
    this[kCallback].call(socket, nread, readBuffer!);
    return undefined;
  }
  return streamRead!.call(this, arrayBuffer);
}

/**
 * The same connection as `raw`, with reads delivered to `callback` (called with the socket as
 * `this`). Reading starts at the first resume(). Returns null unless `raw` is a plain
 * net.Socket (not TLS, not WebSocket) with a live handle never read from; the caller then keeps
 * `raw` and its 'data' events.
 */
export function userBufferSocket<T>(raw: object, callback: ReadCallback<T>): Socket | null {
  if (raw.constructor !== net.Socket) return null;
  if ((raw as { [kDirect]?: true })[kDirect] === true) return raw as Socket; // acceptedSocket's: already reads so
  const r = raw as Socket & { _handle?: object | null };
  const handle = r._handle;
  if (handle === null || handle === undefined || r.destroyed || r.connecting || r.bytesRead > 0) return null;
  r._handle = null; // `raw` never read a byte (it arrived paused) and is dropped unclosed: the handle is the new socket's
  return directSocket(handle, r.allowHalfOpen, callback);
}

/** A libuv stream handle as net.Socket keeps it (`reading`: whether readStart is in effect). */
interface StreamHandle { reading: boolean; readStart(): number; readStop(): number }

/**
 * Starts (`on`) or stops reading `socket`. A direct socket (its bytes go to a callback:
 * directSocket) is started and stopped on its handle only, as net.Socket's own resume() and
 * pause() do before they also put the Readable side into or out of flowing mode: no byte ever
 * flows through that side, and each resume() of a paused stream costs a nextTick (its record
 * and async context, ~0.7 KB) and a 'resume' event; one per connection at take-up made that a
 * tenth of what a CONNECT burst allocates per connection. End of stream still ends the socket:
 * Node's read callback pushes EOF and calls read(0), which emits 'end' flowing or not. Any
 * other socket (TLS, WebSocket, a socket given 'data' listeners) is paused and resumed as usual.
 */
export function setReading(socket: { pause(): unknown; resume(): unknown }, on: boolean): void {
  if ((socket as { [kDirect]?: true })[kDirect] !== true) { if (on) socket.resume(); else socket.pause(); return; }
  const s = socket as Socket & { _handle?: StreamHandle | null };
  const h = s._handle;
  if (h === null || h === undefined || s.destroyed || h.reading === on) return;
  h.reading = on;
  const err = on ? h.readStart() : h.readStop();
  // what net.Socket does with a failed readStart/readStop: the socket is destroyed, 'error' then 'close'
  if (err !== 0) s.destroy(errnoError(err, on ? 'read' : 'readStop'));
}

function errnoError(errno: number, syscall: string): Error {
  const code = util.getSystemErrorName(errno);
  return Object.assign(new Error(`${syscall} ${code}`), { errno, code, syscall });
}

/** Write-once storage for bytes read: each read is copied to the next free bytes. */
export class ReadSlab {
  buf: Buffer = Buffer.allocUnsafeSlow(0);
  private pos = 0;

  /** Copies src[0, n) into the slab; returns its offset in `this.buf` (which may be a new slab). */
  keep(src: Uint8Array, n: number): number {
    let pos = this.pos;
    if (this.buf.length - pos < n) {
      this.buf = Buffer.allocUnsafeSlow(n > SLAB_SIZE ? n : SLAB_SIZE);
      pos = 0;
    }
    copyBytes(this.buf, pos, src, 0, n);
    this.pos = pos + n;
    return pos;
  }
}

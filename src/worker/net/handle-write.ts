// Writes a turn's output straight to a plain TCP socket's libuv handle, past the Writable stream.
//
// In a ping-pong every message is alone in its turn, so the per-write work of Node's stream
// layer (Writable.write → _write → writeGeneric → a new WriteWrap, afterWriteDispatched,
// onwrite) was paid once per message: about 7% of a shard's CPU in pingtest (perf, 1 shard).
// The handle's own writeBuffer does the same syscall (libuv's uv_try_write first, the rest
// queued by libuv in order). A write that completes synchronously, nearly all of them, needs
// its request object only as a carrier, so one is reused; a write libuv has to finish later
// keeps its request and its bytes until the completion callback.
//
// It needs Node's stream_wrap binding (stream-binding.ts: WriteWrap and the shared write-result
// words). Where it is missing, or the socket is not a plain net.Socket with a live handle, the caller
// keeps writing through the stream, as before.

import { streamWrap, type StreamWrap } from './stream-binding.ts';

/** A pending write, as libuv's completion sees it. */
export interface WriteReq {
  handle: object;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: unknown;
  /** Who to tell when libuv finished this write (set only for writes that went async). */
  owner: AsyncWriteOwner | null;
  /** The slab written, to give back to the pool once libuv is done with it. */
  slab: Buffer | null;
}

/** What is told about a write libuv finished later. */
export interface AsyncWriteOwner {
  asyncWriteDone(status: number, pending: number, slab: Buffer | null): void;
}

/** The part of a TCP handle used here. */
export interface TcpHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
}

const wrap = streamWrap as (Omit<StreamWrap, 'WriteWrap'> & { WriteWrap: new () => WriteReq }) | null;

/** Whether writes go to the handle in this thread (false: through the stream). */
export const handleWrites = wrap !== null;

let spare: WriteReq | null = null;

/** A request: the spare one, whose fields are as made (a synchronous write reads none of them), or a new one. */
function request(): WriteReq {
  const spared = spare;
  if (spared !== null) { spare = null; return spared; }
  const req = new wrap!.WriteWrap();
  req.oncomplete = onWriteComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.owner = null;
  req.slab = null;
  return req;
}

function onWriteComplete(this: WriteReq, status: number): void {
  const owner = this.owner;
  const pending = this.bytes;
  const slab = this.slab;
  this.owner = null;
  this.slab = null;
  this.buffer = null;
  owner?.asyncWriteDone(status, pending, slab);
}

/**
 * The libuv handle of `socket` when writes may go to it directly: a plain net.Socket (the
 * caller checked) that still has its handle. Null otherwise (closed, or no binding).
 */
export function writableHandle(socket: object): TcpHandle | null {
  if (wrap === null) return null;
  const h = (socket as { _handle?: TcpHandle | null })._handle;
  return h !== null && h !== undefined && typeof h.writeBuffer === 'function' ? h : null;
}

/**
 * Writes `bytes` (a view of `slab`) to `handle`. Returns 0 when the kernel took them all (the
 * slab is free again), the number of bytes libuv still holds (it keeps `slab` and tells
 * `owner` when done), or a negative errno (nothing more will be written on this socket).
 */
export function writeToHandle(handle: TcpHandle, bytes: Uint8Array, slab: Buffer | null, owner: AsyncWriteOwner): number {
  const req = request();
  req.handle = handle;
  const err = handle.writeBuffer(req, bytes);
  if (err !== 0) return err < 0 ? err : -1; // the request is not reused: libuv may have seen it
  if (wrap!.streamBaseState[wrap!.kLastWriteWasAsync] === 0) { spare = req; return 0; }
  // libuv took part of it, or none; the result words say only the total, so the whole write
  // counts as held until it completes (backlog() errs high for that while, never low).
  req.async = true;
  req.bytes = bytes.length;
  req.buffer = bytes; // keeps the bytes alive while libuv writes them
  req.owner = owner;
  req.slab = slab;
  return bytes.length;
}

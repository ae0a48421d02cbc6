import type { ClientSocket } from './client-socket.ts';
import { writeToHandle, type AsyncWriteOwner, type TcpHandle } from './handle-write.ts';
import { copyBytes } from '../../shared/ring/copy.ts';
import { encodeVarint, varintLength } from '../../shared/protocol/varint.ts';

/** Size of one output slab; a turn's output larger than this goes out as several slabs in one corked write. */
export const SLAB_SIZE = 64 * 1024;
/** Packets at least this large are written as they are (no copy into a slab). */
const DIRECT_MIN = SLAB_SIZE / 2;
/** Free slabs kept per thread (reused by whichever connection writes next). */
const POOL_MAX = 64;
const pool: Buffer[] = [];

function takeSlab(): Buffer { return pool.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE); }
function giveSlab(b: Buffer): void { if (pool.length < POOL_MAX) pool.push(b); }

/**
 * The view of a slab's first `n` bytes that a write takes (writeBuffer and socket.write want a
 * whole view). Making one per write was the write path's one allocation per message (≈ 100 B
 * and a CreateTypedArray call: in a round trip every write is one small packet). The pool is a
 * stack, so the next writer takes the slab the last one gave back, and a workload's packets
 * repeat their lengths: each of VIEW_SLOTS slots keeps the view of the last (slab, length) pair
 * it saw. A view is only a window, so writing the same one twice writes the bytes now in that
 * window; a slab libuv or the stream still holds is not in the pool, so nothing is appended to it
 * meanwhile. The slots keep at most VIEW_SLOTS slabs reachable, as many as the pool holds.
 */
const VIEW_SLOTS = 64; // power of two
const views: (Buffer | null)[] = new Array<Buffer | null>(VIEW_SLOTS).fill(null);
const viewSlabs: (Buffer | null)[] = new Array<Buffer | null>(VIEW_SLOTS).fill(null);

function head(slab: Buffer, n: number): Buffer {
  const i = n & (VIEW_SLOTS - 1);
  if (viewSlabs[i] === slab) {
    const v = views[i]!;
    if (v.length === n) return v;
  }
  const v = slab.subarray(0, n);
  views[i] = v;
  viewSlabs[i] = slab;
  return v;
}

/** A slab libuv held for a write goes back to the pool once that write completed. */
export function releaseSlab(b: Buffer): void { giveSlab(b); }

/** Free slabs in this thread's pool (tests). */
export function pooledSlabs(): number { return pool.length; }

/**
 * One connection's output of the current event-loop turn: packets are copied (or encoded) into a
 * slab taken from a per-thread pool, and the turn ends with one socket write. A slab whose write
 * completed synchronously (the socket took every byte: `writableLength === 0` afterwards) is not
 * referenced by the socket any more and goes back to the pool; otherwise the socket keeps it and
 * the next turn takes another. An idle connection holds no slab.
 */
export class Outbox {
  /** Bytes and packets appended this turn. */
  bytes = 0;
  packets = 0;
  private slab: Buffer | null = null;
  private pos = 0;
  /** Where claim() put the packet in the buffer it returned. */
  at = 0;
  /** Earlier parts of this turn's output, in order: filled slabs (views) and large packets. */
  private parts: Buffer[] | null = null;
  /** Whole slabs among `parts` (returned to the pool with the current one). */
  private full: Buffer[] | null = null;

  /** Room for `n` bytes (n ≤ SLAB_SIZE) at `this.pos` of the returned slab. */
  private room(n: number): Buffer {
    const slab = this.slab;
    if (slab !== null && this.pos + n <= SLAB_SIZE) return slab;
    if (slab !== null) this.retire(slab);
    const next = takeSlab();
    this.slab = next;
    this.pos = 0;
    return next;
  }

  /**
   * Room for a packet of `n` bytes, counted, that the caller writes at `this.at` of the returned
   * buffer: the current slab, or (n ≥ DIRECT_MIN) a buffer of its own at 0, in order after what
   * came before.
   */
  claim(n: number): Buffer {
    this.bytes += n;
    this.packets++;
    if (n >= DIRECT_MIN) {
      const own = Buffer.allocUnsafe(n);
      if (this.slab !== null) this.retire(this.slab);
      (this.parts ??= []).push(own);
      this.at = 0;
      return own;
    }
    const slab = this.room(n);
    this.at = this.pos;
    this.pos += n;
    return slab;
  }

  /** The current slab's bytes become an earlier part; the next bytes go to a new slab. */
  private retire(slab: Buffer): void {
    if (this.pos > 0) {
      (this.parts ??= []).push(slab.subarray(0, this.pos));
      (this.full ??= []).push(slab);
    } else giveSlab(slab);
    this.slab = null;
    this.pos = 0;
  }

  append(buf: Buffer): void {
    const n = buf.length;
    this.bytes += n;
    this.packets++;
    if (n >= DIRECT_MIN) {
      if (this.slab !== null) this.retire(this.slab);
      (this.parts ??= []).push(buf);
      return;
    }
    const slab = this.room(n);
    copyBytes(slab, this.pos, buf, 0, n);
    this.pos += n;
  }

  /**
   * Appends a packet copied from `src[off, off + len)` with its first byte replaced by `b0`
   * (a PUBLISH forwarded by another shard, whose fixed header differs only in flags).
   */
  appendPatched(src: Uint8Array, off: number, len: number, b0: number): void {
    const dst = this.claim(len);
    const at = this.at;
    copyBytes(dst, at, src, off, len);
    dst[at] = b0;
  }

  /**
   * Appends the QoS 1/2 PUBLISH `template` (one encoding shared by a fan-out) with the packet id
   * at `idOffset` set to `packetId`: copied once, into the output. A copy of its own per
   * subscriber (withPacketId) was an allocation and a second copy per delivery.
   */
  appendWithId(template: Buffer, idOffset: number, packetId: number): void {
    const len = template.length;
    const dst = this.claim(len);
    const at = this.at;
    copyBytes(dst, at, template, 0, len);
    dst[at + idOffset] = packetId >>> 8;
    dst[at + idOffset + 1] = packetId & 0xff;
  }

  /**
   * Appends the MQTT 5 form of the v3.1.1 QoS 0 PUBLISH at `src[off, off + len)`: the same
   * packet with an empty property list (one 0 byte) between topic and payload, which starts at
   * `payloadOff`. `b0` is the fixed header byte. Returns the bytes appended.
   */
  appendAsV5(src: Uint8Array, off: number, len: number, payloadOff: number, b0: number): number {
    let p = off + 1;
    while ((src[p]! & 0x80) !== 0) p++;
    p++;
    const rem = len - (p - off) + 1;
    const total = 1 + varintLength(rem) + rem;
    const topicLen = payloadOff - p;
    const payloadLen = off + len - payloadOff;
    const dst = this.claim(total);
    let at = this.at;
    dst[at++] = b0;
    at += encodeVarint(rem, dst, at);
    copyBytes(dst, at, src, p, topicLen);
    at += topicLen;
    dst[at++] = 0;
    copyBytes(dst, at, src, payloadOff, payloadLen);
    return total;
  }

  /**
   * Writes the turn's output to `socket` (one write, or one corked batch when it spans several
   * parts) and empties the outbox. `reuse`: the socket is a plain TCP socket whose synchronous
   * completion means it holds no reference to the slabs. Returns socket.write's verdict.
   */
  writeTo(socket: ClientSocket, reuse: boolean): boolean {
    const slab = this.slab;
    const pos = this.pos;
    const parts = this.parts;
    const full = this.full;
    this.reset();
    let ok: boolean;
    if (parts === null) {
      if (slab === null) return true;
      ok = socket.write(head(slab, pos));
    } else {
      socket.cork();
      for (let i = 0; i < parts.length; i++) socket.write(parts[i]!);
      if (slab !== null && pos > 0) socket.write(slab.subarray(0, pos));
      socket.uncork();
      ok = true; // a large turn: the caller's high-water check on writableLength decides
    }
    if (reuse && socket.writableLength === 0) {
      if (slab !== null) giveSlab(slab);
      if (full !== null) for (let i = 0; i < full.length; i++) giveSlab(full[i]!);
    }
    return ok;
  }

  /**
   * Writes the turn's output straight to the socket's libuv handle (handle-write.ts), part by
   * part in order, and empties the outbox. Returns the bytes libuv still holds (0: the kernel
   * took everything, and every slab is back in the pool), or a negative errno.
   */
  writeToHandle(handle: TcpHandle, owner: AsyncWriteOwner): number {
    const slab = this.slab;
    const pos = this.pos;
    const parts = this.parts;
    const full = this.full;
    this.reset();
    let held = 0;
    if (parts !== null) {
      for (let i = 0; i < parts.length; i++) {
        const r = writeToHandle(handle, parts[i]!, null, owner);
        if (r < 0) return r;
        held += r;
      }
    }
    if (slab !== null) {
      if (pos === 0) giveSlab(slab);
      else {
        // Held by libuv, the slab comes back when the write completes (AsyncWriteOwner).
        const r = writeToHandle(handle, head(slab, pos), slab, owner);
        if (r < 0) return r;
        if (r === 0) giveSlab(slab);
        held += r;
      }
    }
    // Filled slabs of a large turn: back only if all went synchronously (else collected).
    if (full !== null && held === 0) for (let i = 0; i < full.length; i++) giveSlab(full[i]!);
    return held;
  }

  /** Drops the turn's output unwritten (the socket is gone). */
  clear(): void {
    if (this.slab !== null) giveSlab(this.slab);
    if (this.full !== null) for (let i = 0; i < this.full.length; i++) giveSlab(this.full[i]!);
    this.reset();
  }

  /** Empty, holding no slab (the slabs are the caller's to write or give back). */
  private reset(): void {
    this.slab = null;
    this.pos = 0;
    this.parts = null;
    this.full = null;
    this.bytes = 0;
    this.packets = 0;
  }
}

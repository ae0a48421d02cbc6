// Routing's frames between shards (encoders and decoders side by side; numbers in
// peers/frames.ts): route table updates and withdraws (withdraw.ts), shared-group member
// counts, and the retained sets ordered through a topic's home shard (retain-sync.ts).
import type { ByteReader, ByteWriter } from '../../shared/bytes.ts';
import { FrameType } from '../peers/frames.ts';
import { readMessageBody, type Message } from '../session/message.ts';

export function writeRoute(w: ByteWriter, add: boolean, shard: number, filter: string): void {
  w.u8(FrameType.ROUTE).u8(add ? 1 : 0).u8(shard).str(filter);
}

export function readRoute(r: ByteReader, to: { applyRoute(add: boolean, shard: number, filter: string): void }): void {
  const add = r.u8() === 1;
  const shard = r.u8();
  to.applyRoute(add, shard, r.str());
}

/**
 * `shard`'s route for `filter` is withdrawn for the QoS `cls` (withdraw.ts, WithdrawClass), with
 * what a skipped message counts as: `atQos0` QoS 0 drops and `full` queue-full drops, unless its
 * payload + topic bytes fit in `room`; `on` false: it is not withdrawn any more (for `cls`).
 */
export function writeWithdraw(w: ByteWriter, shard: number, filter: string, cls: number, on: boolean, atQos0: number, full: number, room: number): void {
  w.u8(FrameType.WITHDRAW).u8(shard).u8(cls).u8(on ? 1 : 0).u32(atQos0).u32(full).f64(room).str(filter);
}

export function readWithdraw(r: ByteReader, to: { applyWithdraw(shard: number, filter: string, cls: number, on: boolean, atQos0: number, full: number, room: number): void }): void {
  const shard = r.u8();
  const cls = r.u8();
  const on = r.u8() === 1;
  const atQos0 = r.u32();
  const full = r.u32();
  const room = r.f64();
  to.applyWithdraw(shard, r.str(), cls, on, atQos0, full, room);
}

/** `key` is the shared subscription key (group + '\0' + filter); count is absolute, so replays are harmless. */
export function writeShare(w: ByteWriter, shard: number, key: string, count: number): void {
  w.u8(FrameType.SHARE).u8(shard).u32(count).str(key);
}

export function readShare(r: ByteReader, to: { applyShare(shard: number, key: string, count: number): void }): void {
  const shard = r.u8();
  const count = r.u32();
  to.applyShare(shard, r.str(), count);
}

/** Same body as PUBLISH (without groups), prefixed with who asks and the token to answer. */
export function writeRetainSet(
  w: ByteWriter, shard: number, token: number, flags: number, expiresAt: number, topic: string,
  origin: string, props: Buffer | null, payload: Buffer,
): void {
  w.u8(FrameType.RETAIN_SET).u8(shard).u32(token).u8(flags).f64(expiresAt).str(topic).str(origin).maybeBytes(props).bytes(payload);
}

export function readRetainSet(r: ByteReader, to: { onSet(from: number, token: number, msg: Message): void }): void {
  const shard = r.u8();
  const token = r.u32();
  to.onSet(shard, token, readMessageBody(r, r.u8()));
}

export function writeRetainDone(w: ByteWriter, token: number): void {
  w.u8(FrameType.RETAIN_DONE).u32(token);
}

export function readRetainDone(r: ByteReader, to: { onDone(token: number): void }): void { to.onDone(r.u32()); }

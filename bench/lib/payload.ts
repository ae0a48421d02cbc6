// Every test payload starts with this header so a receiver can compute publish→deliver
// latency and check the stream of one publisher without any per-message state on the wire
// beyond 16 bytes (the seed's loadtest payload was 16 bytes too).
//   0  u32  publisher id (unique across the run and across threads)
//   4  u32  sequence number, 0-based, per publisher
//   8  f64  send time, ms on the shared clock (clock.ts)
export const HEADER_SIZE = 16;
export const PUBLISHER_OFFSET = 0;
export const SEQ_OFFSET = 4;
export const TIME_OFFSET = 8;

/** Payload bytes after the header: the text repeated/truncated to fill `size`. */
export function makePayload(size: number, publisherId: number, filler: string): Buffer {
  const buf = Buffer.alloc(Math.max(size, HEADER_SIZE));
  buf.writeUInt32BE(publisherId >>> 0, PUBLISHER_OFFSET);
  const text = Buffer.from(filler.length > 0 ? filler : ' ');
  for (let i = HEADER_SIZE; i < buf.length; i++) buf[i] = text[(i - HEADER_SIZE) % text.length];
  return buf;
}

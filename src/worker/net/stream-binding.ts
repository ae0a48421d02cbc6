// Node's stream_wrap binding, loaded once for the parts that work on a TCP handle past its stream
// (handle-write.ts: writes, socket-reader.ts: reads).
//
// `process.binding('stream_wrap')` is deprecated in documentation only (DEP0111, warned about
// only under --pending-deprecation). Where it is missing or not as expected this is null and
// both sides keep Node's stream paths.

/** The part of the binding used: the write request class and the shared result words. */
export interface StreamWrap {
  WriteWrap: new () => unknown;
  /** Words libuv's callbacks leave results in: nread of a read, the async flag of a write. */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

export const streamWrap: StreamWrap | null = load();

function load(): StreamWrap | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrap> }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array &&
        typeof b.kLastWriteWasAsync === 'number' && typeof b.kReadBytesOrError === 'number') return b as StreamWrap;
  } catch { /* no binding: stream reads and writes */ }
  return null;
}

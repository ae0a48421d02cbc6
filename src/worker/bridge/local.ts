// The local side's byte stream: an in-process stream pair, one end made a Connection of this
// shard (so the bridge is a normal, persistent local session: its queue, the store and the
// delivery machinery are the ones every client has), the other end read by the bridge's Link.
import { duplexPair, type Duplex } from 'node:stream';
import type { ClientSocket } from '../net/client-socket.ts';

/** What the bridge needs of its shard to connect locally (shard.ts). */
export interface InternalSink {
  adoptInternal(socket: ClientSocket): void;
}

/** A new local connection; returns the bridge's end of it. */
export function openLocal(sink: InternalSink, name: string): Duplex {
  const [shardEnd, bridgeEnd] = duplexPair();
  Object.assign(shardEnd, { internal: true, remoteAddress: `bridge:${name}`, remotePort: 0 });
  sink.adoptInternal(shardEnd as unknown as ClientSocket);
  return bridgeEnd;
}

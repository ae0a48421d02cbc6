// Watching a JetStream KV bucket from its current values on (docs/cluster.md): main's node and
// route tables, shard 0's retained replica.
import type { KV, KvWatchEntry } from '@nats-io/kv';

/**
 * Calls `each` for every current entry and then every change; resolves once the current ones
 * are in (the entry with nothing pending after it has come, or the bucket was empty), with a
 * function that ends the watch (after NATS comes back, a new watch reads the bucket again).
 */
export async function watchAll(kv: KV, each: (e: KvWatchEntry) => void): Promise<() => void> {
  const empty = (await kv.status()).values === 0;
  const iter = await kv.watch();
  let initial: () => void = () => {};
  const caughtUp = new Promise<void>((resolve) => { initial = resolve; });
  if (empty) initial();
  void (async () => {
    for await (const e of iter) {
      each(e);
      if (e.delta === 0) initial();
    }
  })();
  await caughtUp;
  return () => iter.stop();
}

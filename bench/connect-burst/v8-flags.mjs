// Loaded with --import into the broker's process by index.ts --broker-v8-flags: V8 flags that
// NODE_OPTIONS does not take (--trace-gc, ...). They are process-wide, so the shards' isolates,
// made after this runs, have them too.
import v8 from 'node:v8';

for (const flag of (process.env.BENCH_V8_FLAGS ?? '').split(' ').filter(Boolean)) v8.setFlagsFromString(flag);

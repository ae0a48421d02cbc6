// Bridge throughput (docs/bridges.md, "Measured"): a publisher streams N messages of 64 bytes
// (window 100) into Shoal, a bridge relays them to Debian's mosquitto, a subscriber there counts
// them; beside it the same publisher straight to that mosquitto, the floor of what a relay can do.
//   node bench/bridge/index.ts [N=20000] [memory|durable]
import type { MqttClient } from 'mqtt';
import { bridgedPair } from '../../test/bridge/helpers.ts';
import { connect, subscribe } from '../../test/helpers/clients.ts';

const N = Number(process.argv[2] ?? 20000);
const persistence = (process.argv[3] ?? 'memory') as 'memory' | 'durable';
const LIMIT_MS = 50_000;

/** ms from the first publish until the subscriber has all N (or LIMIT_MS), and how many came. */
async function run(pubUrl: string, subUrl: string, qos: 0 | 1): Promise<{ ms: number; got: number }> {
  const sub: MqttClient = await connect(subUrl, { protocolVersion: 5 });
  await subscribe(sub, 'b/#', { qos: 1 });
  const pub: MqttClient = await connect(pubUrl, { protocolVersion: 5 });
  let got = 0;
  const all = new Promise<void>((r) => sub.on('message', () => { if (++got === N) r(); }));
  const payload = Buffer.alloc(64, 1);
  const t0 = performance.now();
  let open = 0, next = 0;
  const go = (): void => {
    while (open < 100 && next < N) { next++; open++; pub.publish('b/x', payload, { qos }, () => { open--; go(); }); }
  };
  go();
  await Promise.race([all, new Promise((r) => setTimeout(r, LIMIT_MS))]);
  const ms = performance.now() - t0;
  sub.end(true);
  pub.end(true);
  return { ms, got };
}

// mosquitto without its store (the tests' autosave-per-change store is what limits it there).
const pair = await bridgedPair((p) => `bridges:\n  - {name: m, address: "127.0.0.1:${p}", topics: [b/# out 1]}\n`,
  { persistence, mosquitto: ['persistence false', 'autosave_on_changes false', 'set_tcp_nodelay true'] });
try {
  for (const qos of [0, 1] as const) {
    const direct = await run(pair.mosq.url, pair.mosq.url, qos);
    const bridged = await run(pair.shoal.url, pair.mosq.url, qos);
    const rate = (r: { ms: number; got: number }): string => `${r.got}/${N} in ${r.ms.toFixed(0)} ms = ${Math.round(r.got / r.ms * 1000)} msg/s`;
    console.log(`QoS ${qos}: straight to mosquitto ${rate(direct)}; through Shoal (${persistence}) and the bridge ${rate(bridged)}`);
  }
} finally {
  await pair.stop();
}

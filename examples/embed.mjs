// Shoal embedded in a program (docs/embedding.md): start a broker with a hook, publish from the
// program, watch a client connect, stop. Run: node examples/embed.mjs (in a project that has
// `shoal` and `mqtt` installed); it prints what it saw and exits 0.
import { createBroker } from 'shoal';
import mqtt from 'mqtt';

const broker = await createBroker({
  host: '127.0.0.1', port: 0, shards: 2, persistence: 'memory', logLevel: 'warn',
  hooks: [{ module: new URL('./hooks/uppercase.mjs', import.meta.url).href, options: { prefix: 'loud/' } }],
});
await broker.listen();
broker.on('client:connect', (c) => console.log(`client:connect ${c.clientId} on shard ${c.shard}`));

const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.address().port}`, { clientId: 'example', protocolVersion: 5 });
await client.subscribeAsync('loud/#', { qos: 1 });
const seen = [];
const two = new Promise((resolve) => client.on('message', (topic, payload) => { seen.push(`${topic} ${payload}`); if (seen.length === 2) resolve(); }));
// A client's publish goes through the hook; the program's own (broker.publish) does not.
await client.publishAsync('loud/hello', 'hello from a client', { qos: 1 });
await broker.publish('loud/program', 'hello from the program', { qos: 1 });
await two;
for (const m of seen) console.log(`received ${m}`);
console.log(`clients ${(await broker.clients()).map((c) => c.clientId).join(',')}`);
await client.endAsync();
await broker.close();
console.log('closed');

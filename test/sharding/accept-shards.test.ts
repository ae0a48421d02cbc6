// --accept shards: every shard listens on the broker's port with SO_REUSEPORT and accepts
// itself (src/worker/net/acceptor.ts). Clients on different shards talk to each other, the port
// stays exclusive to one broker, a restarted shard listens again, and shutdown is clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { collect, connect, endAll, eventually, publish, subscribe, uid, type MqttClient } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal option' : process.platform !== 'linux' ? 'SO_REUSEPORT listeners are checked with ss (Linux)' : false;

/** The number of listening TCP sockets on `port` (one per shard, plus main's while it reserves a port). */
function listeners(port: number): number {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

test('--accept shards: one listener per shard on the port, clients of every shard exchange messages', { skip }, async () => {
  const b = await startBroker({ shards: 4, extraArgs: ['--accept', 'shards'] });
  const clients: MqttClient[] = [];
  try {
    assert.equal(listeners(b.port), 4);
    const topic = uid('acc');
    // 24 clients: with 4 listeners, the kernel's hash puts them on several shards.
    for (let i = 0; i < 24; i++) clients.push(await connect(b.url, { version: i % 2 === 0 ? 4 : 5 }));
    const cols = clients.map((c) => collect(c));
    for (const c of clients) await subscribe(c, `${topic}/#`, { qos: 1 });
    for (let i = 0; i < clients.length; i++) await publish(clients[i]!, `${topic}/${i}`, `m${i}`, { qos: 1 });
    for (const col of cols) await col.waitFor(clients.length, 5000);
    for (const col of cols) assert.equal(col.messages.length, clients.length);
  } finally {
    await endAll(clients);
    assert.equal(await b.stop(), 0);
  }
});

test('--accept shards: a second broker on the same port is refused (SO_REUSEPORT must not let it share)', { skip }, async () => {
  const b = await startBroker({ shards: 2, extraArgs: ['--accept', 'shards'] });
  try {
    const r = spawnSync(process.execPath, ['bin/shoal.js', '--host', '127.0.0.1', '--port', String(b.port), '--shards', '1', '--persistence', 'memory', '--accept', 'shards'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+ \(tcp\): EADDRINUSE \(SHOAL_LISTEN_FAILED\)/);
    assert.equal(listeners(b.port), 2);
    await connect(b.url).then((c) => c.end(true));
  } finally {
    await b.stop();
  }
});

test('--accept shards: a crashed shard listens again once restarted', { skip }, async () => {
  const b = await startBroker({ shards: 2, testHooks: true, extraArgs: ['--accept', 'shards'] });
  const clients: MqttClient[] = [];
  try {
    const c = await connect(b.url, { version: 5 });
    let closed = false;
    c.on('close', () => { closed = true; });
    c.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 });
    await eventually(() => closed, 5000, 'the crashed shard closes its client');
    await eventually(() => listeners(b.port) === 2, 10_000, 'both shards listening again');
    for (let i = 0; i < 10; i++) clients.push(await connect(b.url));
    const topic = uid('after');
    const col = collect(clients[0]!);
    await subscribe(clients[0]!, topic, { qos: 1 });
    await publish(clients[9]!, topic, 'x', { qos: 1 });
    await col.waitFor(1, 5000);
    c.end(true);
  } finally {
    await endAll(clients);
    await b.stop();
  }
});

// The cross-node workload of bench:cluster (BENCHMARKS.md): the loadtest's --sub-port puts its
// subscribers on another node and --settle gives the cluster time to announce their routes; a
// run across two nodes delivers every message, once, in order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Broker } from '../helpers/broker.ts';
import { uid } from '../helpers/clients.ts';
import { closedPort, runTool, type JsonReport } from '../bench/run-tool.ts';
import { natsMissing, startNats, startNode, type Nats } from './helpers.ts';

const skip = natsMissing;
let nats: Nats;
const nodes: Broker[] = [];

before(async () => {
  if (skip) return;
  nats = await startNats();
  const name = uid('b').replace(/[^A-Za-z0-9_-]/g, '_');
  for (const id of ['n1', 'n3']) nodes.push(await startNode(nats, name, id, { shards: 1 }));
});
after(async () => {
  for (const n of nodes) await n.stop();
  await nats?.stop();
});

test('bench:cluster workload: loadtest with publishers on node 1 and subscribers on node 3 (--sub-port, --settle) delivers every message once, in order', { skip }, async () => {
  const r = await runTool('loadtest', ['--host', '127.0.0.1', '--port', String(nodes[0]!.port), '--sub-port', String(nodes[1]!.port),
    '--settle', '500', '--conns', '4', '--messages', '2000', '--protocol', '3.1.1', '--threads', '1', '--json'], 60_000);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const f = (JSON.parse(r.stdout) as JsonReport).figures;
  assert.equal(f.received, 4000);
  assert.equal(f.lost, 0);
  assert.equal(f.duplicated, 0);
  assert.equal(f.outOfOrder, 0);
  // The subscribers really go to --sub-port: with nothing there, the run cannot connect them.
  const none = await runTool('loadtest', ['--host', '127.0.0.1', '--port', String(nodes[0]!.port), '--sub-port', String(await closedPort()),
    '--conns', '2', '--messages', '10', '--threads', '1', '--json'], 60_000);
  assert.equal(none.code, 2, none.stderr + none.stdout);
});

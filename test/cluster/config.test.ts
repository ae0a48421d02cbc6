// The cluster's settings (docs/cluster.md): flags and keys cluster-name / cluster-node-id /
// cluster-nats, or one `cluster:` map in the file; a bad value is one line and exit code 2, and a
// node whose NATS does not answer does not start, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort } from '../helpers/broker.ts';
import { envWith, run } from '../config/run.ts';

function refusedLine(args: string[]): string {
  const r = run(args, envWith());
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  return lines[0]!;
}

test('cluster config: the file\'s cluster: {name, node-id, nats: [urls]} map sets the cluster-* keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-cluster-cfg-'));
  try {
    const f = join(dir, 'shoal.yaml');
    writeFileSync(f, 'cluster:\n  name: prod\n  node-id: n1\n  nats: [nats://10.0.0.1:4222, nats://10.0.0.2:4222]\n');
    const r = run(['--config', f, '--print-config'], envWith());
    assert.equal(r.code, 0, r.stderr);
    const y = parse(r.stdout) as Record<string, unknown>;
    assert.equal(y['cluster-name'], 'prod');
    assert.equal(y['cluster-node-id'], 'n1');
    assert.equal(y['cluster-nats'], 'nats://10.0.0.1:4222,nats://10.0.0.2:4222');
    writeFileSync(f, 'cluster:\n  name: prod\n  nodeid: n1\n');
    assert.match(refusedLine(['--config', f]), /shoal\.yaml:3.*cluster: unknown key "nodeid"/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('cluster config: --cluster-name without --cluster-node-id, or a node id that is not one NATS token, is refused in one line', () => {
  assert.match(refusedLine(['--cluster-name', 'prod']), /--cluster-name needs --cluster-node-id/);
  assert.match(refusedLine(['--cluster-name', 'prod', '--cluster-node-id', 'n.1']), /--cluster-node-id may hold letters, digits, - and _ only/);
  assert.match(refusedLine(['--cluster-name', 'a b', '--cluster-node-id', 'n1']), /--cluster-name may hold/);
});

test('cluster config: a node whose NATS does not answer stops at start with SHOAL_CLUSTER_UNAVAILABLE naming the URL', async () => {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const r = run(['--port', '0', '--persistence', 'memory', '--shards', '1', '--cluster-name', 'c', '--cluster-node-id', 'n1', '--cluster-nats', url], envWith(), 30_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /SHOAL_CLUSTER_UNAVAILABLE/);
  assert.ok(r.stderr.includes(url), r.stderr);
});

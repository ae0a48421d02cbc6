// --hook MODULE on the command line and hooks: in the config file load the same hook in every
// shard (examples/hooks/audit.mjs, the example docs/hooks.md shows); a module that cannot load
// stops the start with one line naming it (exit 1); a hook too slow to decide counts as a refusal
// after --hook-timeout, and the connection's other packets wait for it, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startBroker, isMosquitto } from '../helpers/broker.ts';
import { connect, connectClient, eventually } from '../helpers/clients.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const AUDIT = join(ROOT, 'examples', 'hooks', 'audit.mjs');
const skip = isMosquitto ? 'Shoal only' : false;

for (const shards of [1, 4]) {
  test(`--hook loads examples/hooks/audit.mjs in every shard: its verdict and its log lines (${shards} shards)`, { skip }, async () => {
    const b = await startBroker({ shards, extraArgs: ['--hook', AUDIT, '--log-format', 'json'] });
    try {
      await assert.rejects(connectClient(b.url, { version: 5, clientId: 'banned-1' }), (e: Error & { code?: number }) => e.code === 0x8a);
      const ids = Array.from({ length: 8 }, (_, i) => `audited-${i}`);
      const clients = await Promise.all(ids.map((clientId) => connect(b.url, { version: 5, clientId })));
      // Wait for the audit lines themselves: the broker's own "connected" line names the client
      // too and may come first (a flake under load when this waited for any line naming it).
      const auditLines = (): { shard: number; client: string }[] =>
        b.stderr().split('\n').filter((l) => l.includes('audit: session established')).map((l) => JSON.parse(l) as { shard: number; client: string });
      await eventually(() => ids.every((id) => auditLines().some((l) => l.client === id)), 5000, 'an audit line per client');
      const lines = auditLines();
      assert.deepEqual(lines.map((l) => l.client).sort(), ids);
      if (shards > 1) assert.ok(new Set(lines.map((l) => l.shard)).size > 1, 'ran on more than one shard');
      for (const c of clients) c.end(true);
    } finally { await b.stop(); }
  });
}

test('hooks: in the config file with options; a module that does not load is one line and exit 1', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-hookcfg-'));
  try {
    const cfg = join(dir, 'shoal.yaml');
    writeFileSync(cfg, `hooks:\n  - module: ${AUDIT}\n    options: {bannedPrefix: "no-"}\n`);
    const b = await startBroker({ shards: 2, extraArgs: ['--config', cfg] });
    try {
      await assert.rejects(connectClient(b.url, { version: 5, clientId: 'no-way' }), (e: Error & { code?: number }) => e.code === 0x8a);
      (await connect(b.url, { version: 5, clientId: 'banned-is-fine-here' })).end(true);
    } finally { await b.stop(); }
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'shoal.js'), '--port', '0', '--persistence', 'memory', '--hook', join(dir, 'missing.mjs')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^shoal: hook .*missing\.mjs: .*\(SHOAL_CONFIG_INVALID\)$/m);
    // --print-config shows the file's hooks then the flag's, in stacking order.
    const pc = spawnSync(process.execPath, [join(ROOT, 'bin', 'shoal.js'), '--config', cfg, '--hook', './second.mjs', '--print-config'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(pc.status, 0, pc.stderr);
    assert.match(pc.stdout, /# --hook\nhooks:\n  - module: .*audit\.mjs\n    options:\n      bannedPrefix: no-\n  - module: \.\/second\.mjs\n    options: \{\}/);
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin', 'shoal.js'), '--hook'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^shoal: --hook: needs a module/m);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a hook that does not answer in --hook-timeout refuses; the client\'s later packets wait, other clients do not', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-hookslow-'));
  try {
    const hook = join(dir, 'never.mjs');
    writeFileSync(hook, `export default () => ({ onACLCheck: (c, topic) => topic === 'never' ? new Promise(() => {}) : true });\n`);
    const b = await startBroker({ shards: 1, extraArgs: ['--hook', hook, '--hook-timeout', '300'] });
    try {
      const slow = await connect(b.url, { version: 5, clientId: 'slow' });
      const other = await connect(b.url, { version: 5, clientId: 'other' });
      const t0 = Date.now();
      const refused = slow.publishAsync('never', 'x', { qos: 1 }).then(() => 0, (e: Error & { code?: number }) => e.code ?? -1);
      const after = slow.publishAsync('fine', 'y', { qos: 1 }).then(() => Date.now() - t0);
      // Meanwhile another client of the same shard is served at once.
      await other.publishAsync('fine', 'z', { qos: 1 });
      assert.ok(Date.now() - t0 < 250, 'the other client did not wait');
      assert.equal(await refused, 0x87);
      assert.ok(await after >= 290, 'the slow client\'s next PUBLISH waited for the verdict');
      await eventually(() => /hook onACLCheck failed: no answer within the hook timeout \(300 ms\)/.test(b.stderr()), 3000, 'the timeout logged');
      slow.end(true); other.end(true);
    } finally { await b.stop(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a hook that declares authentication methods without onAuthPacket: one warning at start, its method gets 0x8C', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-hookmethods-'));
  try {
    const hook = join(dir, 'methods.mjs');
    writeFileSync(hook, `export default () => ({ authMethods: ['TOY'] });\n`);
    const b = await startBroker({ shards: 2, extraArgs: ['--hook', hook] });
    try {
      await eventually(() => /declares authentication methods but has no onAuthPacket/.test(b.stderr()), 3000, 'the warning logged');
      assert.equal(b.stderr().split('\n').filter((l) => l.includes('declares authentication methods')).length, 1, 'once, not once per shard');
      const refused = await connectClient(b.url, { version: 5, clientId: 'toy', properties: { authenticationMethod: 'TOY' } })
        .then(() => 0, (e: Error & { code?: number }) => e.code ?? -1);
      assert.equal(refused, 0x8c);
    } finally { await b.stop(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// A first-party backend that is down says so once per outage in each shard's log (not once per
// CONNECT), and in /metrics and $SYS: questions, errors, and the shard's down gauge. The broker
// runs from the CLI with a config file; the backend is PostgreSQL on a port where nothing
// listens, so this needs no database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isMosquitto, startBroker } from '../helpers/broker.ts';
import { connect, eventually } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only' : false;

/** The sum over shards of a metric's series for one backend. */
function metric(text: string, name: string, backend: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) if (m[1]!.includes(`backend="${backend}"`)) sum += Number(m[2]);
  return sum;
}

test('a backend that is down: one log line per shard per outage, and its errors and state in /metrics and $SYS', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-outage-'));
  const shards = 2;
  try {
    const nobody = await freePort(); // nothing listens there: every question is refused at once
    const cfg = join(dir, 'shoal.yaml');
    writeFileSync(cfg, `hooks:\n  - module: shoal/hooks/postgres\n    options: {url: "postgres://mqtt@127.0.0.1:${nobody}/mqtt", timeoutMs: 1000, onError: allow}\n`);
    const httpPort = await freePort();
    const b = await startBroker({ shards, extraArgs: ['--config', cfg, '--log-format', 'json', '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--sys-interval', '1'] });
    try {
      const tries = 8;
      // onError allow: each CONNECT is let in, as configured, within the timeout.
      for (let i = 0; i < tries; i++) (await connect(b.url, { version: 5, clientId: `c${i}`, username: `u${i}`, password: 'pw' })).end(true);
      const lines = b.stderr().split('\n').filter((l) => l.includes('postgresql unreachable or too slow')).map((l) => JSON.parse(l) as { shard: number; answer: string });
      assert.ok(lines.length >= 1 && lines.length <= shards, `${lines.length} outage lines for ${tries} refused CONNECTs`);
      assert.equal(new Set(lines.map((l) => l.shard)).size, lines.length, 'one line per shard');
      assert.equal(lines[0]!.answer, 'allow');

      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      assert.equal(metric(text, 'shoal_backend_requests_total', 'postgres'), tries);
      assert.equal(metric(text, 'shoal_backend_errors_total', 'postgres') + metric(text, 'shoal_backend_timeouts_total', 'postgres'), tries);
      assert.equal(metric(text, 'shoal_backend_down', 'postgres'), lines.length);
      assert.equal(metric(text, 'shoal_backend_requests_total', 'redis'), 0);

      const sys = await connect(b.url, { version: 5 });
      const got = new Map<string, string>();
      sys.on('message', (topic, payload) => got.set(topic, payload.toString()));
      await sys.subscribeAsync('$SYS/broker/backends/#');
      await eventually(() => got.has('$SYS/broker/backends/postgres/state'), 4000, '$SYS backend state');
      assert.equal(got.get('$SYS/broker/backends/postgres/state'), `down on ${lines.length} of ${shards} shards`);
      assert.ok(Number(got.get('$SYS/broker/backends/postgres/requests')) >= tries); // and the SUBSCRIBE's ACL question
      assert.ok(![...got.keys()].some((t) => t.includes('/redis/')), 'no $SYS for a backend nobody configured');
      sys.end(true);
    } finally { await b.stop(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

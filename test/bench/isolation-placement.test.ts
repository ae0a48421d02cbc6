// bench:isolation's placement (issue #12): with the admin URL it reports which shard each
// client landed on, and with --layout it re-makes connections until the clients land as
// asked, in both phases, so a series of runs measures one topology instead of the kernel's
// SO_REUSEPORT coin tosses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerOf, type Broker } from '../helpers/broker.ts';
import { parseReport, runTool } from './run-tool.ts';

let broker: Broker;

before(async () => { broker = await startBrokerOf('shoal', { shards: 2, extraArgs: ['--http-port', '0', '--accept', 'shards'] }); });
after(async () => { await broker.stop(); });

interface Placed { layout: string | null; baselineLayout: string | null; placementRemakes: number; costPercent: number | null }

async function run(extra: string[]): Promise<Placed> {
  const r = await runTool('isolation', [
    '--host', '127.0.0.1', '--port', String(broker.port), '--json', '--messages', '2000', '--stalled', '2',
    '--admin', broker.urls.http!, ...extra,
  ], 60_000);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return (parseReport(r.stdout).figures as unknown as { isolation: Placed }).isolation;
}

test('isolation placement: --layout puts publisher, healthy and stalled clients on the shards asked, baseline too', async () => {
  // Every two-shard topology of publisher, healthy and the stalled pair that the issue names.
  for (const layout of ['0000', '0011', '0100', '0101']) {
    const p = await run(['--layout', layout, '--with-baseline']);
    assert.equal(p.layout, layout);
    assert.equal(p.baselineLayout, layout.slice(0, 2));
    assert.equal(typeof p.costPercent, 'number');
  }
});

test('isolation placement: without --layout the landing is reported as the kernel chose it', async () => {
  const p = await run([]);
  assert.match(p.layout ?? '', /^0[01]{3}$/);
  assert.equal(p.placementRemakes, 0);
  assert.equal(p.baselineLayout, null);
});

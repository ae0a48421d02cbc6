// bench:isolation against a real Mosquitto, briefly: the figures mean what they say. The
// stalled subscribers really stop reading (they get no message, and the kernel shows the
// bytes piling up unread on their side and unsent on the broker's), slow ones read at their
// rate, the healthy ones get every message once and in order, and the figure is their rate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerOf, type Broker } from '../helpers/broker.ts';
import { parseCompareArgs } from '../../bench/compare/args.ts';
import { parseReport, runTool } from './run-tool.ts';

let broker: Broker;

before(async () => { broker = await startBrokerOf('mosquitto'); });
after(async () => { await broker.stop(); });

const at = (): string[] => ['--host', '127.0.0.1', '--port', String(broker.port), '--json'];

interface Group {
  count: number; offered: number; received: number; bytesRead: number; bytesAfterSuback: number; closed: number;
  queues: { oursUnread: number; brokerUnsent: number } | null;
  each: { qos: number; received: number; bytesAfterSuback: number; readingMs: number; queues: { oursUnread: number; brokerUnsent: number } | null }[];
}
interface Isolation {
  healthyRate: number; publisherAckRate: number; healthyMinDelivered: number;
  probe: { sent: number; answered: number; missedDeadline: number; deadlineMs: number };
  stalled: Group; slow: Group; costPercent: number | null;
  baseline: { healthyRate: number } | null;
}
const isolationOf = (figures: unknown): Isolation => (figures as { isolation: Isolation }).isolation;

test('isolation: stalled subscribers read nothing and the kernel shows it; slow ones keep to their rate; healthy ones get everything', async () => {
  const messages = 20_000;
  const slowRate = 400;
  const run = await runTool('isolation', [...at(), '--messages', String(messages), '--stalled', '2', '--slow', '1', '--slow-rate', String(slowRate)], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  assert.equal(r.tool, 'isolation');
  assert.equal(r.pass, true);
  const f = r.figures;
  const iso = isolationOf(f);
  assert.equal(f.sent, messages);
  assert.equal(f.expected, messages);
  assert.equal(f.received, messages);
  assert.equal(f.lost + f.duplicated + f.outOfOrder, 0);
  assert.equal(iso.healthyMinDelivered, messages);
  // The figure is the healthy subscriber's rate: its deliveries over the elapsed time.
  assert.equal(f.rate, iso.healthyRate);
  assert.ok(Math.abs(f.rate - (messages * 1000) / f.elapsedMs) < 1, `rate ${f.rate} vs ${messages} in ${f.elapsedMs} ms`);
  assert.ok(iso.publisherAckRate > 0);

  // Stalled: QoS 0 and 1 alternating, not one message read, and the bytes sit in the kernel.
  assert.equal(iso.stalled.count, 2);
  assert.deepEqual(iso.stalled.each.map((e) => e.qos), [0, 1]);
  assert.equal(iso.stalled.received, 0);
  assert.equal(iso.stalled.offered, messages);
  const offeredBytes = messages * 1024;
  for (const e of iso.stalled.each) {
    assert.ok(e.queues !== null, 'no /proc/net/tcp entry for a stalled subscriber');
    // What reached its side (read before the pause took effect, or waiting in the kernel)
    // is a fraction of what it was offered: the rest is queued in the broker or dropped.
    const reached = e.bytesAfterSuback + e.queues.oursUnread + e.queues.brokerUnsent;
    assert.ok(reached < offeredBytes / 2, `stalled QoS ${e.qos}: ${reached} of ${offeredBytes} bytes reached it`);
    if (e.qos === 0) {
      // Nothing holds QoS 0 back but TCP: both ends' buffers are full.
      assert.ok(e.queues.oursUnread > 16 * 1024, `stalled: only ${e.queues.oursUnread} bytes unread on our side`);
      assert.ok(e.queues.brokerUnsent > 16 * 1024, `stalled: only ${e.queues.brokerUnsent} bytes unsent on the broker's side`);
    } else {
      // QoS 1 never acknowledged: Mosquitto stops at its in-flight window (20 by default).
      assert.ok(e.bytesAfterSuback <= 20 * 1100, `stalled QoS 1 was sent ${e.bytesAfterSuback} bytes`);
    }
  }
  assert.equal(iso.stalled.closed, 0, 'Mosquitto keeps a stalled subscriber connected');

  // Slow: it reads, but no faster than its rate over its own reading time (+ the 100 ms
  // burst it may take + two reads' worth of 1 KiB messages: a read already under way when
  // it pauses still arrives).
  assert.equal(iso.slow.count, 1);
  const slow = iso.slow.each[0]!;
  assert.ok(slow.received > 0, 'the slow subscriber read nothing');
  const allowed = (slowRate * slow.readingMs) / 1000 + slowRate / 10 + 128;
  assert.ok(slow.received <= allowed, `slow subscriber read ${slow.received} in ${slow.readingMs} ms, allowed ${allowed}`);
  assert.ok(slow.received >= (slowRate * slow.readingMs) / 1000 / 2, `slow subscriber read only ${slow.received} in ${slow.readingMs} ms`);
  assert.ok(iso.slow.received < messages, 'the slow subscriber kept up with the publisher: the run proves nothing');

  // The probe pair ran and its round trips are the latency figure.
  assert.ok(iso.probe.sent >= 1);
  assert.equal(f.latency.count, iso.probe.answered);
  assert.equal(iso.probe.deadlineMs, 2000);
  assert.equal(iso.costPercent, null);
});

test('isolation: two healthy subscribers at QoS 0; the baseline mode has no stalled or slow subscriber', async () => {
  const run = await runTool('isolation', [...at(), '--messages', '3000', '--healthy', '2', '--qos', '0', '--stalled', '0', '--slow', '0'], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const r = parseReport(run.stdout);
  const iso = isolationOf(r.figures);
  assert.equal(r.params.qos, 0);
  assert.equal(r.figures.expected, 6000);
  assert.equal(r.figures.received, 6000);
  assert.equal(iso.stalled.count, 0);
  assert.equal(iso.slow.count, 0);
  // Per healthy subscriber: 3000 delivered each over the elapsed time.
  assert.ok(Math.abs(r.figures.rate - (3000 * 1000) / r.figures.elapsedMs) < 1);
});

test('isolation --with-baseline: the same load without the stalled ones first, and the cost in %', async () => {
  const run = await runTool('isolation', [...at(), '--messages', '3000', '--stalled', '1', '--stalled-qos', '1', '--with-baseline'], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const iso = isolationOf(parseReport(run.stdout).figures);
  assert.ok(iso.baseline !== null && iso.baseline.healthyRate > 0);
  assert.deepEqual(iso.stalled.each.map((e) => e.qos), [1]);
  assert.ok(iso.costPercent !== null);
  const expected = (1 - iso.healthyRate / iso.baseline.healthyRate) * 100;
  assert.ok(Math.abs(iso.costPercent - expected) < 0.01, `${iso.costPercent} vs ${expected}`);
});

test('isolation: --with-baseline without anything to isolate is a usage error', async () => {
  const run = await runTool('isolation', [...at(), '--stalled', '0', '--with-baseline'], 30_000);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--with-baseline needs --stalled or --slow/);
});

test('bench:compare knows the isolation workload', () => {
  const cli = parseCompareArgs(['--workload', 'isolation', '--brokers', 'shoal', '--', '--stalled', '2']);
  assert.equal(cli.workload, 'isolation');
  assert.match(cli.toolPath, /bench\/isolation\/index\.ts$/);
  assert.deepEqual(cli.toolArgs, ['--stalled', '2']);
});

// Stalled subscribers on another shard than their publisher: every message offered to them is
// accounted for, exactly. Frames from the publisher's shard come through the ring, and a
// subscriber already judged slow with a full queue has them dropped and counted without
// building a Message first (routing/delivery.ts, dropsAtOnce); whatever way a message goes,
// it is sent, queued or dropped-and-counted once. Once both would only drop, their shard
// withdraws the route (routing/withdraw.ts) and the publisher's shard counts the drops in its
// place. On the subscribers' shard nobody else is connected, so sent + queued there + dropped
// on either shard = what the publisher sent, for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient } from '../helpers/raw.ts';
import { eventually, sleep, uid } from '../helpers/clients.ts';
import { scrape } from '../admin/helpers.ts';
import { numberedFlood } from '../regress/held-ring-clients.ts';

const MESSAGES = 20_000;
const PAYLOAD_BYTES = 1024;

// Small bounds so that both queues are full early and most messages take the drop path.
const h = useBroker({ shards: 2, extraArgs: ['--max-queued-messages', '2000', '--max-queued-qos0', '200', '--max-client-backlog', String(1 << 20), '--http-port', '0', '--log-level', 'warn'] });

test('stalled subscribers on another shard than their publisher: every message sent, queued or dropped and counted, once', { timeout: 120_000 }, async (t) => {
  const topic = uid('far');
  // Least-loaded placement: shard 0, then shard 1 for the publisher, then shard 0 again (a tie goes to the first).
  const stalled0 = (await RawClient.connect(h.port, { version: 4, clientId: uid('stalled0') })).c;
  await stalled0.subscribe(`${topic}/#`, 0);
  const placeholder = (await RawClient.connect(h.port, { version: 4, clientId: uid('placeholder') })).c; // shard 1, kept
  const stalled1 = (await RawClient.connect(h.port, { version: 4, clientId: uid('stalled1') })).c;
  await stalled1.subscribe(`${topic}/#`, 1);
  stalled0.socket.pause();
  stalled1.socket.pause();
  const admin = h.broker.urls.http!;
  await eventually(async () => (await scrape(admin)).value('shoal_connections', { shard: '0' }) === 2, 5000, 'both stalled subscribers on shard 0');
  const flood = await numberedFlood(h.port, `${topic}/d`, MESSAGES, PAYLOAD_BYTES); // shard 1 (1 against 2)
  try {
    type Accounted = { sent: number; queued: number; qos0: number; full: number; withdraws: number; skipped: number };
    const accounted = async (): Promise<Accounted> => {
      const m = await scrape(admin);
      return {
        sent: m.value('shoal_messages_sent_total', { shard: '0' }),
        queued: m.value('shoal_queued_messages', { shard: '0' }),
        qos0: m.value('shoal_messages_dropped_total', { shard: '0', cause: 'slow_client_qos0' }) + m.value('shoal_messages_dropped_total', { shard: '1', cause: 'slow_client_qos0' }),
        full: m.value('shoal_messages_dropped_total', { shard: '0', cause: 'queue_full' }) + m.value('shoal_messages_dropped_total', { shard: '1', cause: 'queue_full' }),
        withdraws: m.value('shoal_route_withdraws_total', { shard: '0' }),
        skipped: m.value('shoal_forwards_skipped_total', { shard: '1' }),
      };
    };
    const total = (a: Accounted): number => a.sent + a.queued + a.qos0 + a.full;
    await eventually(async () => total(await accounted()) >= 2 * MESSAGES, 60_000, 'every message accounted for').catch(() => {});
    await sleep(300);
    const a = await accounted();
    t.diagnostic(`shard 0: sent ${a.sent}, queued ${a.queued}; dropped ${a.qos0} QoS 0 and ${a.full} QoS 1 (queue full), of ${MESSAGES} to each of 2; ${a.withdraws} withdraws, ${a.skipped} messages not forwarded`);
    assert.equal(total(a), 2 * MESSAGES, 'each message to each stalled subscriber sent, queued or dropped, once');
    assert.ok(a.qos0 > MESSAGES / 2, 'most QoS 0 dropped (the stalled QoS 0 subscriber is slow)');
    assert.ok(a.full > MESSAGES / 2, 'most QoS 1 dropped at the queue bound');
    assert.ok(a.withdraws >= 1 && a.skipped > MESSAGES / 4, 'the route was withdrawn and most messages past the bounds were not forwarded');
  } finally {
    flood.stop();
    stalled0.destroy();
    stalled1.destroy();
    placeholder.destroy();
  }
});

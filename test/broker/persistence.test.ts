// Persistence across broker restarts: sessions, queued and retained messages survive (--persistence).
// Same --data-dir each time:
//  - fast: after a graceful stop (SIGTERM) the next broker has the persistent sessions, their
//    subscriptions and queued QoS 1/2 messages, and the retained messages;
//  - durable: the same after SIGKILL right after the PUBACK/PUBCOMP ("a message acknowledged
//    to a publisher is never lost by a crash"), plus an in-flight (unacknowledged) delivery
//    re-sent with DUP on resumption.
// Mosquitto runs here with persistence off, so these are Shoal-only.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, isMosquitto, type Broker } from '../helpers/broker.ts';
import { shoalOnly, versionName } from '../helpers/matrix.ts';
import { RawClient, buildAck, describeFrame, type Received } from '../helpers/raw.ts';
import { connect, publish, end, uid } from '../helpers/clients.ts';

type Pub = Received & { topic: string; payload: Buffer; qos: 0 | 1 | 2; dup: boolean; retain: boolean; messageId?: number };

const modes: Array<{ mode: 'fast' | 'durable'; how: 'SIGTERM' | 'SIGKILL' }> = [
  { mode: 'fast', how: 'SIGTERM' },
  { mode: 'durable', how: 'SIGKILL' },
];

for (const shards of (isMosquitto ? [1] : [1, 4])) {
  for (const version of [4, 5] as const) {
    for (const { mode, how } of modes) {
      describe(`${versionName(version)}, ${shards} shard${shards > 1 ? 's' : ''}, --persistence ${mode}`, () => {
        test(`restart after ${how}: persistent session, subscription, queued QoS 1/2 and retained messages survive`, shoalOnly('--persistence modes'), async () => {
          const dir = mkdtempSync(join(tmpdir(), 'shoal-persist-'));
          let b: Broker | undefined;
          try {
            b = await startBroker({ shards, persistence: mode, dataDir: dir });
            const id = uid('p');
            const topic = uid('p-t');
            const rtopic = uid('p-r');
            const persistent = { version, clientId: id, clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}) };
            const first = await RawClient.connect(b.port, persistent);
            await first.c.subscribe(topic, 2);
            // In flight at the crash: delivered, never acknowledged.
            const pub = await connect(b.url, { version });
            await publish(pub, topic, 'inflight', { qos: 1 });
            const inflight = await first.c.expectPacket('publish') as Pub;
            first.c.destroy();
            // Queued while offline, and a retained message.
            await publish(pub, topic, 'queued-1', { qos: 1 });
            await publish(pub, topic, 'queued-2', { qos: 2 });
            await publish(pub, rtopic, 'retained', { qos: 1, retain: true });
            pub.end(true);
            if (how === 'SIGKILL') await b.kill('SIGKILL');
            else assert.equal(await b.stop(), 0, 'graceful stop exit code');

            b = await startBroker({ shards, persistence: mode, dataDir: dir });
            // Every aspect is checked and reported together, so one run says exactly what was lost.
            const problems: string[] = [];
            const back = await RawClient.connect(b.port, persistent);
            try {
              if (!back.connack.sessionPresent) problems.push('Session Present 0: the persistent session was lost');
              const got: Pub[] = [];
              const deadline = Date.now() + 3000;
              while (got.length < 3 && Date.now() < deadline) {
                try {
                  const m = await back.c.expectPacket('publish', deadline - Date.now()) as Pub;
                  got.push(m);
                  await back.c.ack(m);
                } catch (e) { if (!(e as Error).message.startsWith('timed out')) throw e; }
              }
              const names = got.map((m) => m.payload.toString());
              const infl = got.find((m) => m.payload.toString() === 'inflight');
              if (!infl) problems.push('the in-flight (delivered, unacknowledged) QoS 1 message was not re-sent [MQTT-4.4.0-1]');
              else {
                if (!infl.dup) problems.push(`the re-sent in-flight message has DUP 0: ${describeFrame(infl)}`);
                if (infl.messageId !== inflight.messageId) problems.push(`the re-sent in-flight message has packet id ${infl.messageId}, was ${inflight.messageId}`);
              }
              if (!names.includes('queued-1')) problems.push('the QoS 1 message queued for the offline session was lost');
              if (!names.includes('queued-2')) problems.push('the QoS 2 message queued for the offline session was lost');
              if (infl && names.includes('queued-1') && names.indexOf('inflight') > names.indexOf('queued-1')) problems.push(`QoS 1 order from one publisher broken [MQTT-4.6.0-2]: ${names.join(', ')}`);
              const wrongQos = got.filter((m) => m.qos !== (m.payload.toString() === 'queued-2' ? 2 : 1));
              if (wrongQos.length) problems.push(`wrong QoS: ${wrongQos.map(describeFrame).join('; ')}`);
              // The subscription itself survived.
              const p2 = await connect(b.url, { version });
              try {
                await publish(p2, topic, 'after', { qos: 1 });
                try {
                  const m = await back.c.waitFor('publish', 3000, (x) => (x as Pub).payload.toString() === 'after') as Pub;
                  back.c.send(buildAck(0x40, m.messageId!));
                } catch { problems.push('the subscription did not survive: a new publication was not delivered'); }
              } finally { await end(p2); }
              // The retained message survived.
              const { c: rs } = await RawClient.connect(b.port, { version, clientId: uid('rs') });
              try {
                await rs.subscribe(rtopic, 1);
                try {
                  const r = await rs.expectPacket('publish', 2000) as Pub;
                  if (r.payload.toString() !== 'retained' || !r.retain) problems.push(`retained message changed: ${describeFrame(r)}`);
                  await rs.ack(r);
                } catch { problems.push('the retained message (PUBACKed before the stop) was lost'); }
              } finally { rs.disconnect(); }
            } finally {
              back.c.sendPacket(version === 5 ? { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : { cmd: 'disconnect' });
              back.c.socket.end();
            }
            assert.deepEqual(problems, [], `after ${how} and restart with --persistence ${mode}`);
            assert.equal(await b.stop(), 0, 'exit code after SIGTERM');
          } finally {
            if (b) await b.kill('SIGKILL');
            rmSync(dir, { recursive: true, force: true });
          }
        });
      });
    }
  }
}

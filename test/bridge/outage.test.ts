// Nothing acknowledged is lost: mosquitto killed (SIGKILL) and restarted while a publisher streams
// QoS 1 into Shoal, and Shoal killed (SIGKILL) with messages queued for a remote that is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll, eventually, sleep, type MqttClient } from '../helpers/clients.ts';
import { bridgeState, bridgedPair, mosquittoMissing, persistentSubscriber } from './helpers.ts';

const bridgeYaml = (port: number): string => `
bridges:
  - name: m
    address: 127.0.0.1:${port}
    protocol-version: "5"
    restart-timeout: "0.2 1"
    topics:
      - stream/# out 1
`;

/** Every acknowledged number arrived, and the first arrivals are in publishing order. */
function assertAllInOrder(acked: number[], seqs: number[]): void {
  const seen = new Set<number>();
  const firsts: number[] = [];
  for (const s of seqs) if (!seen.has(s)) { seen.add(s); firsts.push(s); }
  const missing = acked.filter((a) => !seen.has(a));
  assert.deepEqual(missing, [], `${missing.length} acknowledged message(s) missing, e.g. ${missing.slice(0, 10).join(',')}`);
  for (let i = 1; i < firsts.length; i++) assert.ok(firsts[i]! > firsts[i - 1]!, `out of order at ${i}: ${firsts[i - 1]} then ${firsts[i]}`);
}

test('bridge outage: mosquitto SIGKILLed and restarted mid-stream, every QoS 1 message Shoal acknowledged arrives in order', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const pair = await bridgedPair(bridgeYaml, { persistence: 'durable' });
  const { mosq } = pair;
  let shoal = pair.shoal;
  const clients: MqttClient[] = [];
  try {
    const sub = await persistentSubscriber(mosq.url, 'outage-sub');
    clients.push(sub.client);
    const pub = await connect(shoal.url, { protocolVersion: 5 });
    clients.push(pub);
    const N = 1500;
    const acked: number[] = [];
    let killedAt = -1;
    let next = 0;
    // A window of 20 unacknowledged publishes, as a real client would keep.
    await new Promise<void>((done) => {
      let open = 0;
      const go = (): void => {
        while (open < 20 && next < N) {
          const n = next++;
          open++;
          pub.publish(`stream/${n % 4}`, String(n), { qos: 1 }, (err) => {
            open--;
            if (!err) acked.push(n);
            if (acked.length >= N / 3 && killedAt < 0) {
              killedAt = acked.length;
              void mosq.kill('SIGKILL').then(() => sleep(1500)).then(() => mosq.start());
            }
            if (next >= N && open === 0) done(); else go();
          });
        }
      };
      go();
    });
    assert.ok(killedAt > 0, 'mosquitto was killed mid-stream');
    assert.equal(acked.length, N, 'Shoal acknowledged every publish (the remote being down does not hold publishers)');
    await eventually(() => new Set(sub.seqs).size >= N, 60_000, `all ${N} at the mosquitto subscriber (got ${new Set(sub.seqs).size})`);
    assertAllInOrder(acked.sort((a, b) => a - b), sub.seqs);
  } finally {
    await endAll(clients);
    await pair.stop();
  }
});

test('bridge outage: Shoal SIGKILLed with messages queued for a down remote, they arrive once both are back', { skip: mosquittoMissing, timeout: 120_000 }, async () => {
  const pair = await bridgedPair(bridgeYaml, { persistence: 'durable' });
  const { mosq } = pair;
  let shoal = pair.shoal;
  const clients: MqttClient[] = [];
  try {
    const sub = await persistentSubscriber(mosq.url, 'restart-sub');
    sub.client.end(true); // its session (and subscription) stays on mosquitto
    await mosq.kill('SIGTERM'); // saves its sessions
    await bridgeState(shoal.url, 'm', '0');
    const pub = await connect(shoal.url, { protocolVersion: 5 });
    const N = 300;
    for (let n = 0; n < N; n++) await new Promise<void>((r, j) => pub.publish(`stream/${n % 3}`, String(n), { qos: 1 }, (e) => (e ? j(e) : r())));
    pub.end(true);
    shoal = await pair.restartShoal('SIGKILL');
    await mosq.start();
    await bridgeState(shoal.url, 'm', '1');
    const again = await persistentSubscriber(mosq.url, 'restart-sub');
    clients.push(again.client);
    await eventually(() => new Set(again.seqs).size >= N, 30_000, `all ${N} at the mosquitto subscriber (got ${new Set(again.seqs).size})`);
    assertAllInOrder(Array.from({ length: N }, (_, i) => i), again.seqs);
  } finally {
    await endAll(clients);
    await pair.stop();
  }
});

// Interoperability with the Mosquitto command-line clients (mosquitto_pub, mosquitto_sub).
// An independent C implementation of the client side. Skipped with a reason when not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoAvailable } from '../helpers/matrix.ts';
import { connect, collect, subscribe, publish, end, uid } from '../helpers/clients.ts';
import { run, startSub, dataLines } from '../helpers/mosquitto-cli.ts';

const avail = mosquittoAvailable();
const skip = avail.ok ? {} : { skip: `mosquitto clients unavailable: ${avail.reason}` };

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });
  const V = version === 5 ? 'mqttv5' : 'mqttv311';
  const common = () => ['-h', '127.0.0.1', '-p', String(h.port), '-V', V];

  test(`mosquitto_pub → mosquitto_sub (${V}): QoS 0, 1, 2 delivered with QoS min(2, publish QoS)`, skip, async () => {
    const topic = uid('mq/interop');
    const sub = await startSub([...common(), '-t', topic, '-q', '2', '-C', '3', '-W', '10', '-F', 'DATA|%t|%q|%r|%p']);
    for (const q of [0, 1, 2]) {
      const r = await run('mosquitto_pub', [...common(), '-t', topic, '-q', String(q), '-m', `m${q}`]);
      assert.equal(r.code, 0, `mosquitto_pub -q ${q} failed: ${r.stderr}`);
    }
    const res = await sub.done;
    assert.equal(res.code, 0, `mosquitto_sub exit code\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
    assert.deepEqual(dataLines(res.stdout), [0, 1, 2].map((q) => `${topic}|${q}|0|m${q}`));
  });

  test(`mosquitto_pub -r → new mosquitto_sub gets the retained message with RETAIN 1 (${V}); -n clears it`, skip, async () => {
    const topic = uid('mq/ret');
    let r = await run('mosquitto_pub', [...common(), '-t', topic, '-q', '1', '-r', '-m', 'kept']);
    assert.equal(r.code, 0, r.stderr);
    r = await run('mosquitto_sub', [...common(), '-t', topic, '-q', '1', '-C', '1', '-W', '5', '-F', 'DATA|%t|%q|%r|%p']);
    assert.equal(r.code, 0, `mosquitto_sub: ${r.stderr}`);
    assert.deepEqual(dataLines(r.stdout), [`${topic}|1|1|kept`]);
    r = await run('mosquitto_pub', [...common(), '-t', topic, '-q', '1', '-r', '-n']);
    assert.equal(r.code, 0, r.stderr);
    // -W 2 with nothing retained: mosquitto_sub times out (exit code 27 in 2.0) and prints nothing.
    r = await run('mosquitto_sub', [...common(), '-t', topic, '-C', '1', '-W', '2', '-F', 'DATA|%t|%q|%r|%p']);
    assert.deepEqual(dataLines(r.stdout), [], 'retained message cleared by a null message');
  });

  test(`mosquitto_pub -V mqttv31 (MQIsdp) → MQTT.js ${version === 5 ? 'v5' : 'v3.1.1'} subscriber, and MQTT.js → mosquitto_sub`, skip, async () => {
    const topic = uid('mq/mix');
    const js = await connect(h.url, { version });
    try {
      const col = collect(js);
      await subscribe(js, topic, { qos: 1 });
      const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.port), '-V', 'mqttv31', '-t', topic, '-q', '1', '-m', 'from 3.1']);
      assert.equal(r.code, 0, `mosquitto_pub -V mqttv31: ${r.stderr}`);
      const [m] = await col.waitFor(1, 5000);
      assert.equal(m!.payload.toString(), 'from 3.1');
      assert.equal(m!.packet.qos, 1);

      const sub = await startSub([...common(), '-t', `${topic}/back`, '-q', '1', '-C', '1', '-W', '10', '-F', 'DATA|%t|%q|%r|%p']);
      await publish(js, `${topic}/back`, 'from MQTT.js', { qos: 1 });
      const res = await sub.done;
      assert.deepEqual(dataLines(res.stdout), [`${topic}/back|1|0|from MQTT.js`]);
    } finally { await end(js); }
  });
});

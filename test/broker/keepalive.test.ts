// Keep Alive: silent clients closed after 1.5 × Keep Alive, PINGREQ, and v5 Server Keep Alive.
// A silent client is closed once 1.5 × Keep Alive passes without a control packet, not before
// Keep Alive; PINGREQ → PINGRESP; any control packet keeps the connection up; Keep Alive 0 turns
// the mechanism off. The tests of one block run concurrently (each has its own connections) to
// keep the wall time down. Last, --max-keepalive and the v5 Server Keep Alive.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachConfig, useBroker, mosquittoDeviates } from '../helpers/matrix.ts';
import { isMosquitto } from '../helpers/broker.ts';
import { RawClient, buildPublish, codeOf, describeFrame, hex, type Frame } from '../helpers/raw.ts';
import { uid, sleep } from '../helpers/clients.ts';

const propsOf = (p: Frame): Record<string, unknown> => ((p as { properties?: Record<string, unknown> }).properties ?? {});

forEachConfig(({ version, shards }) => {
  const h = useBroker({ shards });

  /** Connect with a keep-alive; returns the client, the effective keep-alive (v5 Server Keep Alive wins) and the CONNACK time. */
  async function open(keepalive: number): Promise<{ c: RawClient; ka: number; t0: number }> {
    const { c, connack } = await RawClient.connect(h.port, { version, clientId: uid('ka'), keepalive });
    const t0 = Date.now();
    const ka = version === 5 ? (connack.properties?.serverKeepAlive ?? keepalive) : keepalive;
    return { c, ka, t0 };
  }

  function assertCloseFrames(frames: Frame[]): void {
    for (const f of frames) {
      assert.ok(version === 5 && f.cmd === 'disconnect' && codeOf(f) === 0x8d,
        `only a v5 DISCONNECT 0x8D (Keep Alive timeout) may precede the close, got ${describeFrame(f)}`);
    }
  }

  for (const keepalive of [1, 2]) {
    test(`[MQTT-3.1.2-24] Keep Alive ${keepalive} s, silent client: closed after 1.5 × Keep Alive, not before Keep Alive`,
      mosquittoDeviates('2.0.11 checks keep-alive coarsely and closes a silent client only after ~5–6 s'), async () => {
        const { c, ka, t0 } = await open(keepalive);
        if (ka === 0) return assert.fail('server turned keep-alive off (Server Keep Alive 0)');
        const frames = await c.expectClose(ka * 1500 + 1500);
        const elapsed = (c.closedAtMs ?? Date.now()) - t0;
        assertCloseFrames(frames);
        assert.ok(elapsed >= ka * 1000 - 50, `closed after ${elapsed} ms, before the Keep Alive of ${ka} s`);
        assert.ok(elapsed <= ka * 1500 + 1000, `closed after ${elapsed} ms, 1.5 × Keep Alive is ${ka * 1500} ms`);
      });
  }

  test('[MQTT-3.1.2-24] a silent client with Keep Alive 1 s is closed eventually (within 10 s)', async () => {
    const { c } = await open(1);
    assertCloseFrames(await c.expectClose(10_000));
  });

  test('[MQTT-3.12.4-1] PINGREQ gets PINGRESP', async () => {
    const { c } = await open(0);
    try {
      c.send('c0 00');
      const r = await c.expectPacket('pingresp');
      assert.equal(hex(r.raw), 'd0 00');
      c.send('c0 00');
      c.send('c0 00');
      await c.expectPacket('pingresp');
      await c.expectPacket('pingresp');
    } finally { c.disconnect(); }
  });

  test('[MQTT-3.1.2-23] PINGREQ every 0.5 s keeps a Keep Alive 1 s connection open (4 s)', async () => {
    const { c, ka } = await open(1);
    try {
      assert.equal(ka, 1, 'server kept the requested keep-alive');
      for (let i = 0; i < 8; i++) {
        await sleep(500);
        assert.ok(!c.closed, `closed after ${i * 500 + 500} ms despite PINGREQs: ${c.history()}`);
        c.send('c0 00');
        await c.expectPacket('pingresp', 2000);
      }
    } finally { c.disconnect(); }
  });

  test('[MQTT-3.1.2-23] any control packet (PUBLISH QoS 0 every 0.6 s) keeps a Keep Alive 1 s connection open (4 s)', async () => {
    const { c } = await open(1);
    try {
      const topic = uid('ka-pub');
      for (let i = 0; i < 7; i++) {
        await sleep(600);
        assert.ok(!c.closed, `closed after ${(i + 1) * 600} ms despite PUBLISH traffic: ${c.history()}`);
        c.send(buildPublish({ version, topic, payload: String(i), qos: 0 }));
      }
      c.send('c0 00');
      await c.expectPacket('pingresp');
    } finally { c.disconnect(); }
  });

  test('Keep Alive 0 turns the mechanism off: silent connection stays open (4 s)', async () => {
    const { c, ka } = await open(0);
    try {
      if (ka !== 0) {
        // v5 [MQTT-3.2.2-21]: the client must use the Server Keep Alive; then "off" was not granted.
        assert.ok(ka >= 4, `Server Keep Alive ${ka} s replaced 0`);
      }
      await sleep(4000);
      assert.ok(!c.closed, `connection with Keep Alive 0 was closed: ${c.history()}`);
      c.send('c0 00');
      await c.expectPacket('pingresp');
    } finally { c.disconnect(); }
  });
}, { concurrency: true });

// MQTT 5 Server Keep Alive: the broker caps the client's Keep Alive at --max-keepalive, tells it
// so in the CONNACK and enforces the cap.
describe('Server Keep Alive (--max-keepalive 1)', { skip: isMosquitto ? 'Shoal only: --max-keepalive' : undefined }, () => {
  const h = useBroker({ shards: 2, extraArgs: ['--max-keepalive', '1'] });

  test('(3.2.2.3.14) a keepalive above the maximum (or 0) is replaced by Server Keep Alive, which the broker enforces (DISCONNECT 0x8D)', async () => {
    for (const keepalive of [60, 0]) {
      const { c, connack } = await RawClient.connect(h.port, { version: 5, clientId: uid('ka'), keepalive });
      try {
        assert.equal(propsOf(connack as unknown as Frame).serverKeepAlive, 1, describeFrame(connack as unknown as Frame));
        const t0 = Date.now();
        const frames = await c.expectClose(4000);
        assert.ok(Date.now() - t0 >= 1000, 'not before 1.5 × the Server Keep Alive');
        assert.deepEqual(frames.map((f) => [f.cmd, codeOf(f)]), [['disconnect', 0x8d]]);
      } finally { c.destroy(); }
    }
  });

  test('[MQTT-3.2.2-22] a keepalive within the maximum: no Server Keep Alive, the client keepalive applies; 3.1.1 clients are never told (and keep their own)', async () => {
    const { c, connack } = await RawClient.connect(h.port, { version: 5, clientId: uid('ka'), keepalive: 1 });
    c.destroy();
    assert.equal(propsOf(connack as unknown as Frame).serverKeepAlive, undefined);
    const old = await RawClient.connect(h.port, { version: 4, clientId: uid('ka4'), keepalive: 60 });
    try {
      assert.equal(old.connack.raw.length, 4, 'plain 3.1.1 CONNACK');
      await old.c.expectNothing(1800); // its own 60 s keepalive applies
    } finally { old.c.destroy(); }
  });
});

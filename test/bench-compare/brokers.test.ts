import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { aedes } from '../../bench/brokers/aedes.ts';
import { shoalBase } from '../../bench/brokers/shoal.ts';
import { repoRoot } from '../../bench/brokers/repo-root.ts';
import { mosquitto, mosquittoConfig } from '../../bench/brokers/mosquitto.ts';
import { procCpuSeconds, procPeakRssBytes } from '../../bench/brokers/proc-stats.ts';
import type { BrokerLauncher } from '../../bench/brokers/types.ts';

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

test('/proc readings: this process has CPU time and a peak RSS; a missing pid reads null', () => {
  assert.ok((procCpuSeconds(process.pid) ?? -1) >= 0);
  assert.ok((procPeakRssBytes(process.pid) ?? 0) > 1024 * 1024);
  assert.equal(procCpuSeconds(2 ** 22 + 12345), null);
  assert.equal(procPeakRssBytes(2 ** 22 + 12345), null);
});

test('the Mosquitto config listens on loopback only and lifts the queue limit', () => {
  const conf = mosquittoConfig(18830).split('\n');
  for (const line of ['listener 18830 127.0.0.1', 'allow_anonymous true', 'persistence false', 'max_queued_messages 1000000', 'set_tcp_nodelay true']) {
    assert.ok(conf.includes(line), line);
  }
});

for (const launcher of [aedes, mosquitto] as BrokerLauncher[]) {
  test(`${launcher.name}: starts on a free port, is measurable, and stops`, { skip: launcher.unavailable() ?? false, timeout: 20_000 }, async () => {
    const broker = await launcher.start({ shards: 1 });
    try {
      assert.equal(broker.name, launcher.name);
      assert.ok(await accepts(broker.port));
      assert.ok((broker.cpuSeconds() ?? -1) >= 0);
      assert.ok((broker.peakRssBytes() ?? 0) > 1024 * 1024);
    } finally {
      await broker.stop();
    }
    assert.equal(broker.cpuSeconds(), null, 'the process is gone after stop()');
    assert.equal(await accepts(broker.port), false);
    await broker.stop(); // a second stop is harmless
  });
}

test('a broker that dies on its own says how', { timeout: 20_000 }, async () => {
  const broker = await aedes.start({ shards: 1 });
  try {
    assert.equal(broker.died(), null);
    process.kill(broker.pid, 'SIGKILL');
    for (let i = 0; i < 100 && broker.died() === null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(broker.died() ?? '', /^killed by SIGKILL \(aedes listening on 127\.0\.0\.1:\d+\)$/);
  } finally {
    await broker.stop();
  }
  assert.equal(broker.died(), null, 'a stop we asked for is not a death');
});

test('shoal-base: unavailable without SHOAL_BASE_DIR, runs the checkout it names', { timeout: 30_000 }, async () => {
  const saved = process.env.SHOAL_BASE_DIR;
  try {
    delete process.env.SHOAL_BASE_DIR;
    assert.match(shoalBase.unavailable() ?? '', /SHOAL_BASE_DIR is not set/);
    process.env.SHOAL_BASE_DIR = '/nonexistent-shoal-checkout';
    assert.match(shoalBase.unavailable() ?? '', /\/nonexistent-shoal-checkout\/bin\/shoal\.js not found/);
    process.env.SHOAL_BASE_DIR = repoRoot; // this checkout stands in for "another build"
    assert.equal(shoalBase.unavailable(), null);
    const broker = await shoalBase.start({ shards: 1 });
    try {
      assert.equal(broker.name, 'shoal-base');
      assert.ok(await accepts(broker.port));
    } finally {
      await broker.stop();
    }
  } finally {
    if (saved === undefined) delete process.env.SHOAL_BASE_DIR; else process.env.SHOAL_BASE_DIR = saved;
  }
});

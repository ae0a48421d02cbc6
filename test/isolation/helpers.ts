// What the isolation tests share: the broker's RSS, and a probe that a well-behaved client
// still gets through (a QoS 1 round trip within a deadline) while a hostile one does its worst.
import { readFileSync } from 'node:fs';
import { collect, connect, endAll, publish, roundTrip, subscribe, uid, type MqttClient } from '../helpers/clients.ts';

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

/** ms a QoS 1 round trip between two fresh clients takes; throws past `deadlineMs`. */
export async function probeMs(url: string, deadlineMs = 2000, version: 4 | 5 = 4): Promise<number> {
  const t0 = performance.now();
  await roundTrip(url, version, deadlineMs);
  return performance.now() - t0;
}

/**
 * A pair of clients connected and subscribed before the abuse starts: `ms()` is one QoS 1
 * publish-to-delivery round trip between them, the traffic of clients already there (a fresh
 * pair's SUBACK also waits for every route update queued before it, by design).
 */
export class ProbePair {
  private readonly sub: MqttClient;
  private readonly pub: MqttClient;
  private readonly topic: string;

  private constructor(sub: MqttClient, pub: MqttClient, topic: string) {
    this.sub = sub;
    this.pub = pub;
    this.topic = topic;
  }

  static async open(url: string): Promise<ProbePair> {
    const topic = uid('probe');
    const sub = await connect(url, { version: 4 });
    const pub = await connect(url, { version: 4 });
    await subscribe(sub, topic, { qos: 1 });
    return new ProbePair(sub, pub, topic);
  }

  async ms(deadlineMs = 2000): Promise<number> {
    const t0 = performance.now();
    const col = collect(this.sub);
    try {
      await publish(this.pub, this.topic, 'ping', { qos: 1 }, deadlineMs);
      await col.waitFor(1, deadlineMs);
    } finally {
      col.stop();
    }
    return performance.now() - t0;
  }

  close(): Promise<void> { return endAll([this.sub, this.pub]); }
}

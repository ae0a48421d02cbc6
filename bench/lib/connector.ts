// Opens many connections with a bound on how many CONNECTs are in flight at once (the
// seed used 100), subscribes each as asked, and counts failures by code.
import { ClientError, LeanClient, errorCode, type ClientOptions } from './client.ts';
import type { QoS } from './packets.ts';
import { isLocalLimit } from './errors.ts';

export interface ConnectPlan {
  options: ClientOptions;
  /** Filters to subscribe right after CONNACK, or empty. */
  topics: string[];
}

export interface ConnectOutcome {
  /** One slot per plan; null where it failed or was not tried. */
  clients: (LeanClient | null)[];
  connected: number;
  failures: Record<string, number>;
  firstFailure: { code: string; message: string } | null;
  /** A local limit (EMFILE, EADDRNOTAVAIL...) stopped the ramp. */
  limitHit: string | null;
}

export interface ConnectSettings {
  concurrency: number;
  subQos: QoS;
  /** Stop starting connections after the first failure (loadtest, pingtest). */
  stopOnFailure: boolean;
  /** Checked before each start; true stops the ramp (Ctrl-C, --duration). */
  shouldStop?: () => boolean;
  /** Waits before each start (many's --wait); resolves false to stop. */
  beforeEach?: (index: number) => Promise<boolean>;
  onConnected?: (client: LeanClient, index: number) => void;
  onProgress?: (connected: number, failed: number) => void;
}

export async function connectAll(plans: ConnectPlan[] | Iterable<ConnectPlan>, s: ConnectSettings): Promise<ConnectOutcome> {
  const out: ConnectOutcome = { clients: [], connected: 0, failures: {}, firstFailure: null, limitHit: null };
  let failed = 0;
  let inFlight = 0;
  let slotFree: (() => void) | null = null;
  const running = new Set<Promise<void>>();
  let index = 0;
  for (const plan of plans) {
    if (s.shouldStop?.() === true || out.limitHit !== null || (s.stopOnFailure && out.firstFailure !== null)) break;
    if (s.beforeEach !== undefined && !(await s.beforeEach(index))) break;
    while (inFlight >= s.concurrency) await new Promise<void>((r) => { slotFree = r; });
    const i = index++;
    out.clients.push(null);
    inFlight++;
    const task = connectOne(plan, s.subQos).then(
      (client) => {
        out.clients[i] = client;
        out.connected++;
        s.onConnected?.(client, i);
      },
      (err: unknown) => {
        const code = err instanceof ClientError ? err.code : errorCode(err);
        out.failures[code] = (out.failures[code] ?? 0) + 1;
        failed++;
        out.firstFailure ??= { code, message: err instanceof Error ? err.message : String(err) };
        if (isLocalLimit(code)) out.limitHit ??= code;
      },
    ).finally(() => {
      inFlight--;
      running.delete(task);
      s.onProgress?.(out.connected, failed);
      const wake = slotFree;
      slotFree = null;
      wake?.();
    });
    running.add(task);
  }
  await Promise.all(running);
  return out;
}

/** One connection of a plan: CONNECT, then its subscriptions (also for a client re-made elsewhere). */
export async function connectOne(plan: ConnectPlan, subQos: QoS): Promise<LeanClient> {
  const client = new LeanClient(plan.options);
  await client.connect();
  if (plan.topics.length > 0) {
    try {
      await client.subscribe(plan.topics, subQos);
    } catch (err) {
      client.destroy('SUBACK_FAILED');
      throw err;
    }
  }
  return client;
}

// /metrics for bridges (docs/bridges.md): one series per bridge, asked of the shards that run them
// over the control channel at scrape time (a bridge's counters live in its shard, not in the
// stats block). The shards are asked only while bridges are configured (admin/index.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BridgeInfo } from '../../shared/admin-query.ts';

type Field = 'connected' | 'queued' | 'sent' | 'received' | 'dropped' | 'reconnects';

const SERIES: [kind: 'gauge' | 'counter', name: string, help: string, field: Field][] = [
  ['gauge', 'shoal_bridge_connected', '1 while the bridge is connected to its remote broker', 'connected'],
  ['gauge', 'shoal_bridge_queued_messages', 'local messages waiting for the remote (session queue and in flight)', 'queued'],
  ['counter', 'shoal_bridge_sent_total', 'messages the remote acknowledged (QoS 0: written)', 'sent'],
  ['counter', 'shoal_bridge_received_total', 'messages from the remote published locally', 'received'],
  ['counter', 'shoal_bridge_dropped_total', 'QoS 0 messages for the remote dropped while it was down or behind', 'dropped'],
  ['counter', 'shoal_bridge_reconnects_total', 'connections to the remote after the first', 'reconnects'],
];

export function registerBridgeMetrics(registry: Registry, bridges: () => Promise<BridgeInfo[]>): void {
  // One question to the shards per scrape, shared by every series of that scrape.
  let pending: Promise<BridgeInfo[]> | null = null;
  const read = (): Promise<BridgeInfo[]> => {
    pending ??= bridges().finally(() => { setImmediate(() => { pending = null; }); });
    return pending;
  };
  for (const [kind, name, help, field] of SERIES) {
    const value = (b: BridgeInfo): number => (field === 'connected' ? (b.connected ? 1 : 0) : b[field]);
    if (kind === 'gauge') {
      new Gauge({ name, help, labelNames: ['bridge'], registers: [registry], async collect() { this.reset(); for (const b of await read()) this.set({ bridge: b.name }, value(b)); } });
    } else {
      new Counter({ name, help, labelNames: ['bridge'], registers: [registry], async collect() { this.reset(); for (const b of await read()) this.inc({ bridge: b.name }, value(b)); } });
    }
  }
}

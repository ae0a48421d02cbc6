// The one line on stdout when the broker listens. Tools and tests parse it
// (`listening on mqtt://HOST:PORT`), so its form stays: URLs first, then the facts in brackets.
import net from 'node:net';
import type { BrokerConfig, ListenerConfig } from '../shared/config.ts';

const SCHEME = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' } as const;

/** mqtt://[::1]:1883: an IPv6 host in brackets, as in any URL. */
export function urlOf(l: ListenerConfig, address: string, port: number): string {
  const host = net.isIPv6(address) ? `[${address}]` : address;
  return `${SCHEME[l.transport]}://${host}:${port}${l.transport === 'ws' || l.transport === 'wss' ? l.path : ''}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function startLine(version: string, urls: readonly string[], config: BrokerConfig): string {
  const data = config.persistence === 'memory' ? '' : `, data ${config.dataDir}`;
  return `shoal ${version} listening on ${urls.join(', ')} (${plural(config.shards, 'shard')}, persistence ${config.persistence}${data})`;
}

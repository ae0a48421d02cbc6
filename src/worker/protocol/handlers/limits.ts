// The limits the packet handlers check: a CONNECT before authentication (--client-id-prefixes:
// 0x85, 3.1.1 code 2; --max-connections across all shards: 0x97, 3.1.1 code 3), topic names
// and filters (--max-topic-levels, --max-topic-length) and retained sets (--max-retained-*).
// Each is off at its default and then costs one comparison.
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import { Stat } from '../../../shared/stats.ts';
import type { BrokerConfig } from '../../../shared/config.ts';
import type { Connection } from '../../net/connection.ts';
import type { RetainedIndex } from '../../routing/retain.ts';

const prefixCache = new WeakMap<object, string[]>();

/** 0 when the CONNECT may go on, else the refusal's reason code (counted and logged here). */
export function admitConnect(conn: Connection, clientId: string, assigned: boolean): number {
  const sh = conn.shard;
  const cfg = sh.config;
  if (cfg.clientIdPrefixes !== '' && !assigned) {
    let prefixes = prefixCache.get(cfg);
    if (prefixes === undefined) { prefixes = cfg.clientIdPrefixes.split(',').map((p) => p.trim()).filter((p) => p !== ''); prefixCache.set(cfg, prefixes); }
    if (!prefixes.some((p) => clientId.startsWith(p))) {
      sh.limits.hit(Stat.LIMIT_CLIENT_ID, 'client-id-prefixes', { client: clientId, remote: conn.remote }, 'connect refused: client id has none of the --client-id-prefixes');
      return Reason.CLIENT_IDENTIFIER_NOT_VALID;
    }
  }
  // Past CONNACK on every shard (the stats block's rows): a burst racing on several shards may
  // pass the limit by the CONNECTs in flight at that instant.
  if (cfg.maxConnections > 0 && sh.stats.sum(Stat.CLIENTS_CONNECTED) >= cfg.maxConnections) {
    sh.limits.hit(Stat.LIMIT_CONNECTIONS, 'max-connections', { client: clientId, remote: conn.remote, limit: cfg.maxConnections }, 'connect refused: --max-connections reached');
    return Reason.QUOTA_EXCEEDED;
  }
  return 0;
}

/** Whether a topic name or filter passes --max-topic-levels / --max-topic-length (bytes). */
export function topicWithinLimits(cfg: BrokerConfig, topic: string): boolean {
  const maxLen = cfg.maxTopicLength;
  // UTF-16 units times 3 bound the UTF-8 length: most topics need no byte count
  if (maxLen > 0 && topic.length * 3 > maxLen && Buffer.byteLength(topic) > maxLen) return false;
  const maxLevels = cfg.maxTopicLevels;
  if (maxLevels > 0 && topic.length >= maxLevels) {
    let levels = 1;
    for (let i = topic.indexOf('/'); i >= 0; i = topic.indexOf('/', i + 1)) if (++levels > maxLevels) return false;
  }
  return true;
}

/** Whether setting `topic` retained to `payloadBytes` stays within --max-retained-messages / --max-retained-bytes. */
export function retainWithinLimits(cfg: BrokerConfig, retained: RetainedIndex, topic: string, payloadBytes: number): boolean {
  if (payloadBytes === 0) return true; // a clear only frees
  const old = retained.get(topic);
  if (cfg.maxRetainedMessages > 0 && old === null && retained.clientCount >= cfg.maxRetainedMessages) return false;
  if (cfg.maxRetainedBytes > 0) {
    const was = old === null ? 0 : old.payload.length + Buffer.byteLength(old.topic);
    if (retained.clientBytes - was + payloadBytes + Buffer.byteLength(topic) > cfg.maxRetainedBytes) return false;
  }
  return true;
}

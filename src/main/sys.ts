import { BACKENDS, BackendStat, backendStat, ClusterStat, Stat, type StatsBlock } from '../shared/stats.ts';
import type { ShardSupervisor } from './shards.ts';

/** Shoal's security counters under $SYS/broker/security/ (docs/security.md). */
export const SECURITY_SYS: readonly [string, number][] = [
  ['$SYS/broker/security/auth-failed', Stat.AUTH_FAILED],
  ['$SYS/broker/security/acl-denied/publish', Stat.ACL_DENIED_PUBLISH],
  ['$SYS/broker/security/acl-denied/subscribe', Stat.ACL_DENIED_SUBSCRIBE],
  ['$SYS/broker/security/acl-denied/delivery', Stat.ACL_DENIED_DELIVERY],
  ['$SYS/broker/security/acl-denied/will', Stat.ACL_DENIED_WILL],
  ['$SYS/broker/security/limit/connections', Stat.LIMIT_CONNECTIONS],
  ['$SYS/broker/security/limit/connections-per-ip', Stat.LIMIT_CONNECTIONS_PER_IP],
  ['$SYS/broker/security/limit/connect-rate', Stat.LIMIT_CONNECT_RATE],
  ['$SYS/broker/security/limit/publish-rate', Stat.LIMIT_PUBLISH_RATE],
  ['$SYS/broker/security/limit/topic', Stat.LIMIT_TOPIC],
  ['$SYS/broker/security/limit/subscriptions', Stat.LIMIT_SUBSCRIPTIONS],
  ['$SYS/broker/security/limit/retained', Stat.LIMIT_RETAINED],
  ['$SYS/broker/security/limit/client-id', Stat.LIMIT_CLIENT_ID],
  ['$SYS/broker/security/limit/persistent-client-expiration', Stat.LIMIT_SESSION_EXPIRY],
];

/**
 * $SYS/broker/backends/NAME/{requests,errors,timeouts,state} of each first-party auth backend
 * that has been asked anything (docs/hooks.md); state is "up", or "down on N of M shards".
 */
function backendSys(s: StatsBlock): [string, string][] {
  const out: [string, string][] = [];
  BACKENDS.forEach((name, i) => {
    const [requests, errors, timeouts, down] = [BackendStat.REQUESTS, BackendStat.ERRORS, BackendStat.TIMEOUTS, BackendStat.DOWN].map((k) => s.sum(backendStat(i, k)));
    if (requests! + errors! === 0) return;
    const at = `$SYS/broker/backends/${name}`;
    out.push([`${at}/requests`, String(requests)], [`${at}/errors`, String(errors)], [`${at}/timeouts`, String(timeouts)],
      [`${at}/state`, down === 0 ? 'up' : `down on ${down} of ${s.shards} shards`]);
  });
  return out;
}

/**
 * $SYS topics, summed over all shards from the shared stats block and sent to every shard
 * (each delivers to its own subscribers and keeps them as retained values).
 */
export class SysPublisher {
  private readonly stats: StatsBlock;
  private readonly shards: ShardSupervisor;
  private readonly version: string;
  private readonly started = Date.now();
  private maxClients = 0;
  private lastReceived = 0;
  private lastSent = 0;
  private lastAt = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(stats: StatsBlock, shards: ShardSupervisor, version: string) {
    this.stats = stats;
    this.shards = shards;
    this.version = version;
  }

  start(intervalSec: number): void {
    if (intervalSec <= 0) return;
    this.publish();
    this.timer = setInterval(() => this.publish(), intervalSec * 1000);
    this.timer.unref();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); }

  items(): [string, string][] {
    const s = this.stats;
    const active = s.sum(Stat.CLIENTS_CONNECTED);
    this.maxClients = Math.max(this.maxClients, active);
    const received = s.sum(Stat.MESSAGES_RECEIVED);
    const sent = s.sum(Stat.MESSAGES_SENT);
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.lastAt) / 1000);
    const perSec = Math.round((received - this.lastReceived) / secs);
    const sentPerSec = Math.round((sent - this.lastSent) / secs);
    this.lastReceived = received;
    this.lastSent = sent;
    this.lastAt = now;
    const offline = s.sum(Stat.SESSIONS_OFFLINE);
    return [
      ['$SYS/broker/version', `shoal ${this.version}`],
      ['$SYS/broker/uptime', `${Math.floor((now - this.started) / 1000)} seconds`],
      ['$SYS/broker/clients/active', String(active)],
      ['$SYS/broker/clients/connected', String(active)],
      ['$SYS/broker/clients/disconnected', String(offline)],
      ['$SYS/broker/clients/total', String(active + offline)],
      ['$SYS/broker/clients/maximum', String(this.maxClients)],
      ['$SYS/broker/messages/received', String(received)],
      ['$SYS/broker/messages/sent', String(sent)],
      ['$SYS/broker/messages/per-sec', String(perSec)],
      ['$SYS/broker/messages/sent-per-sec', String(sentPerSec)],
      ['$SYS/broker/messages/dropped', String(s.sum(Stat.DROPPED_QOS0) + s.sum(Stat.DROPPED_QUEUE_FULL) + s.sum(Stat.DROPPED_STORE_FULL))],
      ['$SYS/broker/messages/queued', String(s.sum(Stat.QUEUED))],
      ['$SYS/broker/messages/queued/bytes', String(s.sum(Stat.QUEUED_BYTES))],
      ['$SYS/broker/messages/dropped/qos0', String(s.sum(Stat.DROPPED_QOS0))],
      ['$SYS/broker/messages/dropped/queue-full', String(s.sum(Stat.DROPPED_QUEUE_FULL))],
      ['$SYS/broker/messages/dropped/store-full', String(s.sum(Stat.DROPPED_STORE_FULL))],
      ['$SYS/broker/messages/refused/quota-exceeded', String(s.sum(Stat.REFUSED_QUOTA))],
      ['$SYS/broker/messages/expired', String(s.sum(Stat.EXPIRED))],
      ['$SYS/broker/store/bytes', String(s.max(Stat.STORE_BYTES))],
      ['$SYS/broker/subscriptions/count', String(s.sum(Stat.SUBSCRIPTIONS))],
      ['$SYS/broker/retained messages/count', String(s.max(Stat.RETAINED))],
      ['$SYS/broker/bytes/received', String(s.sum(Stat.BYTES_RECEIVED))],
      ['$SYS/broker/bytes/sent', String(s.sum(Stat.BYTES_SENT))],
      ['$SYS/broker/shards', String(this.shards.count)],
      ['$SYS/broker/connections/handshakes-failed', String(s.sum(Stat.HANDSHAKES_FAILED))],
      ...SECURITY_SYS.map(([topic, stat]): [string, string] => [topic, String(s.sum(stat))]),
      ...backendSys(s),
      // A shard cut off from NATS holds what other nodes want (worker/cluster/hold.ts); 0 without a cluster.
      ['$SYS/broker/cluster/held/bytes', String(s.sum(ClusterStat.HELD_BYTES))],
      ['$SYS/broker/cluster/held/messages', String(s.sum(ClusterStat.HELD_MESSAGES))],
      ['$SYS/broker/cluster/held/dropped', String(s.sum(ClusterStat.HELD_DROPPED))],
    ];
  }

  private publish(): void {
    this.shards.broadcast({ type: 'sys', items: this.items() });
  }
}

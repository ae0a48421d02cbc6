// Liveness and readiness. /health says the process answers; /ready says it can take clients:
// every shard up (a shard reports ready only after opening the store), the listeners bound,
// and not starting or shutting down.

/** What readiness needs to know about the shards. */
export interface ShardsUp {
  readonly count: number;
  isUp(shard: number): boolean;
}

export type Phase = 'starting' | 'running' | 'stopping';

export interface ReadyState {
  ready: boolean;
  reason: string;
  phase: Phase;
  shards_up: number;
  shards_total: number;
  store_open: boolean;
  listeners_bound: boolean;
}

/** A cluster node (docs/cluster.md): not ready while it is not connected to NATS. */
export interface ClusterUp { readonly connected: boolean }

export class Readiness {
  private readonly shards: ShardsUp;
  private readonly cluster: ClusterUp | null;
  private phase: Phase = 'starting';
  private bound = false;

  constructor(shards: ShardsUp, cluster: ClusterUp | null = null) { this.shards = shards; this.cluster = cluster; }

  /** Every listener is bound: the broker is running from now on. */
  listening(): void {
    this.bound = true;
    if (this.phase === 'starting') this.phase = 'running';
  }

  /** Shutdown has begun: not ready again in this process. */
  stopping(): void { this.phase = 'stopping'; }

  check(): ReadyState {
    const total = this.shards.count;
    let up = 0;
    for (let i = 0; i < total; i++) if (this.shards.isUp(i)) up++;
    const storeOpen = up === total;
    let reason = 'ready';
    if (this.phase === 'stopping') reason = 'shutting down';
    else if (up < total) reason = `${this.phase === 'starting' ? 'starting: ' : ''}${up} of ${total} shards up${this.phase === 'running' ? ' (a shard is restarting)' : ''}`;
    else if (!this.bound) reason = 'starting: listeners not bound yet';
    else if (this.cluster !== null && !this.cluster.connected) reason = 'cluster: not connected to NATS (serving local clients only)';
    return {
      ready: reason === 'ready', reason, phase: this.phase,
      shards_up: up, shards_total: total, store_open: storeOpen, listeners_bound: this.bound && this.phase !== 'stopping',
    };
  }
}

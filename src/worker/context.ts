import type { Logger } from 'pino';
import type { BrokerConfig } from '../shared/config.ts';
import type { StatsBlock } from '../shared/stats.ts';
import type { HookRegistry } from './hooks/registry.ts';

/**
 * What every part of a shard may know about where it runs: its index among `count` shards, the
 * broker's configuration, the shared stats block and the log. Parts get this plus the few other
 * parts they use, named in their constructors, never the whole shard.
 */
export interface ShardContext {
  readonly id: number;
  readonly count: number;
  readonly config: BrokerConfig;
  readonly stats: StatsBlock;
  readonly log: Logger;
  /** The shard's hooks (hooks/registry.ts): call sites test `hooks.has.<point>` first. */
  readonly hooks: HookRegistry;
}

// The bridges room (docs/bridges.md): the shard's part of the `bridges:` configuration. A bridge
// runs in one shard, the home shard of its local client id ($bridge/<name>, hashed like every
// client id), so its session is owned where it is stored and no claim crosses shards. A restarted
// shard starts its bridges again from the same configuration; the session, with what was queued
// for the remote, comes back from the store, so nothing acknowledged is lost.
import type { BridgeInfo } from '../../shared/admin-query.ts';
import { BRIDGE_ID_PREFIX } from '../../shared/protocol/constants.ts';
import { Bridge, type BridgeParts } from './bridge.ts';

export interface BridgesParts extends BridgeParts {
  /** The home shard of a client id (session/registry.ts). */
  home(clientId: string): number;
}

export class Bridges {
  private readonly list: Bridge[];

  constructor(sh: BridgesParts) {
    this.list = sh.ctx.config.bridges
      .filter((b) => sh.home(BRIDGE_ID_PREFIX + b.name) === sh.ctx.id)
      .map((b) => new Bridge(b, sh));
  }

  start(): void { for (const b of this.list) b.start(); }
  stop(): void { for (const b of this.list) b.stop(); }
  status(): BridgeInfo[] { return this.list.map((b) => b.status()); }
}

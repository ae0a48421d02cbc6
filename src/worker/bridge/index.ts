// The bridges room (docs/bridges.md): the shard's part of the `bridges:` configuration. A bridge
// runs in one shard, the home shard of its local client id ($bridge/<name>, hashed like every
// client id), so its session is owned where it is stored and no claim crosses shards. A restarted
// shard starts its bridges again from the same configuration; the session, with what was queued
// for the remote, comes back from the store, so nothing acknowledged is lost. A SIGHUP hands a
// new list (src/main/reload.ts): bridges added start, removed ones stop and drop their sessions,
// changed ones start again on the same session, and the others are not touched.
import type { BridgeInfo } from '../../shared/admin-query.ts';
import type { BridgeConfig } from '../../shared/config/bridges.ts';
import { BRIDGE_ID_PREFIX } from '../../shared/protocol/constants.ts';
import { Bridge, type BridgeParts } from './bridge.ts';

export interface BridgesParts extends BridgeParts {
  /** The home shard of a client id (session/registry.ts). */
  home(clientId: string): number;
}

export class Bridges {
  private readonly sh: BridgesParts;
  private list: Bridge[];
  private started = false;

  constructor(sh: BridgesParts) {
    this.sh = sh;
    this.list = this.mine(sh.ctx.config.bridges).map((b) => new Bridge(b, sh));
  }

  start(): void {
    this.started = true;
    for (const b of this.list) b.start();
  }

  stop(): void { for (const b of this.list) b.stop(); }
  status(): BridgeInfo[] { return this.list.map((b) => b.status()); }

  /** A reloaded `bridges:` list (all of them; this shard takes its own). */
  reconfigure(all: readonly BridgeConfig[]): void {
    const next = new Map(this.mine(all).map((c) => [c.name, c]));
    const kept: Bridge[] = [];
    for (const b of this.list) {
      const c = next.get(b.cfg.name);
      if (c !== undefined && sameConfig(c, b.cfg)) { kept.push(b); next.delete(c.name); continue; }
      this.sh.ctx.log.info({ bridge: b.cfg.name }, c === undefined ? 'reload: bridge removed' : 'reload: bridge changed, restarting it');
      b.close(c === undefined);
    }
    for (const c of next.values()) {
      const b = new Bridge(c, this.sh);
      if (this.started) b.start();
      kept.push(b);
      if (!this.list.some((o) => o.cfg.name === c.name)) this.sh.ctx.log.info({ bridge: c.name }, 'reload: bridge added');
    }
    this.list = kept;
  }

  private mine(all: readonly BridgeConfig[]): BridgeConfig[] {
    return all.filter((b) => this.sh.home(BRIDGE_ID_PREFIX + b.name) === this.sh.ctx.id);
  }
}

/** Bridge configurations are plain data from the same reader: equal when their JSON is. */
function sameConfig(a: BridgeConfig, b: BridgeConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// The --acl-file AccessHook: Mosquitto's acl_file compiled once per load (src/shared/auth/acl.ts),
// each client's rules prepared once (at its first check, and again after a reload: a client
// whose prepared rules are from an older load is prepared anew at its next operation).
import { Acl, type ClientAcl, type SubscribeVerdict } from '../../shared/auth/acl.ts';
import type { AccessClient, AccessHook } from './access.ts';

export class AclFileAccess implements AccessHook {
  private acl: Acl;
  private gen = 0;

  constructor(acl: Acl) { this.acl = acl; }

  /** A reloaded file: every client is prepared again at its next check. */
  replace(acl: Acl): void {
    this.acl = acl;
    this.gen++;
  }

  private rules(client: AccessClient): ClientAcl {
    if (client.stateGen !== this.gen) {
      client.state = this.acl.forClient(client.clientId, client.username);
      client.stateGen = this.gen;
    }
    return client.state as ClientAcl;
  }

  onACLCheck(client: AccessClient, topic: string, write: boolean): boolean {
    const r = this.rules(client);
    return write ? r.canPublish(topic) : r.canRead(topic);
  }

  subscribeVerdict(client: AccessClient, filter: string): SubscribeVerdict { return this.rules(client).subscribeVerdict(filter); }

  /** Through the client's bounded decision cache: fan-out to wildcard subscriptions stays cheap. */
  canDeliver(client: AccessClient, topic: string): boolean { return this.rules(client).canReadCached(topic); }
}

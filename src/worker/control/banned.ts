// Client ids the admin port banned (POST /api/v1/mqtt/blacklist/{id}). Every shard keeps the whole
// list (a CONNECT may land on any shard); the store keeps it across restarts, written once per
// change by the shard main names. A banned id is refused by an auth hook wrapped around the
// configured one, so the CONNECT path needs no code of its own for it.
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { Store } from '../../shared/store/index.ts';
import type { AuthExchange, AuthHook, AuthOutcome, AuthRequest, Maybe } from '../auth/hook.ts';

const REFUSED: AuthOutcome = Object.freeze({ reason: Reason.BANNED, reasonString: 'client id banned by the administrator' });
// A 3.1.1 client gets return code 5 (not authorized) for 0x8A: reason-codes.ts maps it.

export class BannedIds {
  private readonly ids = new Set<string>();
  private readonly store: Pick<Store, 'putBanned' | 'loadBanned'>;

  constructor(store: Pick<Store, 'putBanned' | 'loadBanned'>) { this.store = store; }

  load(): void { for (const id of this.store.loadBanned()) this.ids.add(id); }

  has(id: string): boolean { return this.ids.size !== 0 && this.ids.has(id); }
  list(): string[] { return [...this.ids].sort(); }

  /** True when the list changed; `write`: this shard stores the change. Settles after the commit. */
  async set(id: string, banned: boolean, write: boolean): Promise<boolean> {
    const changed = banned ? !this.ids.has(id) : this.ids.has(id);
    if (banned) this.ids.add(id); else this.ids.delete(id);
    if (write) await this.store.putBanned(id, banned);
    return changed;
  }

  /** The configured hook, with banned ids refused before it is asked. */
  wrap(inner: AuthHook): AuthHook {
    return {
      check: (req: AuthRequest): Maybe<AuthOutcome> => (this.has(req.clientId) ? REFUSED : inner.check(req)),
      supportsMethod: (method: string): boolean => inner.supportsMethod(method),
      begin: (method: string, req: AuthRequest, reauth: boolean): AuthExchange =>
        (this.has(req.clientId) ? { step: () => REFUSED } : inner.begin(method, req, reauth)),
    };
  }
}

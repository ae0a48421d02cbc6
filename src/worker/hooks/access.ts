// The modules' onACLCheck at delivery (Mosquitto's semantics: a subscriber's read access is
// checked against the topic of each message delivered to it, not only its filter at SUBSCRIBE).
// It joins the shard's access hook (auth/access.ts) only when some module implements
// onACLCheck: then the files' hook (the ACL file or an --auth-hook's onACLCheck) decides first,
// as everywhere in the stack, and the modules are asked after it, through the per-client guard
// that delivery, shared-subscription picks and retained messages already ask.
//
// At delivery an answer must come now: the shard cannot hold one subscriber's messages without
// reordering them or holding the publisher. So the modules are called synchronously, and a
// synchronous answer is used as it is (not cached: a hook's own cache decides how fresh it is,
// as the first-party backends' TTL caches do, whose hits are synchronous). A promise is not
// waited for: that delivery gets this topic's last settled answer for the client (none yet: the
// SUBSCRIBE verdict, which the same hooks gave the filter, stands), and its answer, once settled
// (a timeout or rejection: refused), answers the topic's next messages while the hooks are asked
// again; while an answer is pending they are not asked again for that topic. Remembered per
// client (its guard: a new connection or a reload starts afresh), at most 256 topics.
import type { SubscribeVerdict } from '../../shared/auth/acl.ts';
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { AccessClient, AccessHook } from '../auth/access.ts';
import type { HookClient, Maybe, Verdict } from './hook.ts';
import { isThenable, LazyClient, verdictCode, type HookRegistry } from './registry.ts';

/** Topics per client whose answer came as a promise. */
const ANSWERS_MAX = 256;

type Check = (client: HookClient, topic: string, write: boolean) => Maybe<Verdict>;

/** The shard's access hook: `files` alone (or null) unless a module implements onACLCheck. */
export function shardAccess(files: AccessHook | null, hooks: HookRegistry, shard: number): AccessHook | null {
  return hooks.has.onACLCheck ? new HookedAccess(files, hooks, shard) : files;
}

class HookedAccess implements AccessHook {
  private readonly files: AccessHook | null;
  private readonly hooks: HookRegistry;
  private readonly shard: number;

  constructor(files: AccessHook | null, hooks: HookRegistry, shard: number) {
    this.files = files;
    this.hooks = hooks;
    this.shard = shard;
  }

  /** PUBLISH and wills: the files' verdict; the modules' write check is hooks/publish.ts's (it may wait). */
  onACLCheck(client: AccessClient, topic: string, write: boolean): boolean {
    return this.files === null || this.files.onACLCheck(client, topic, write);
  }

  /** The files' verdict, but never 'grant': each delivery asks the modules too. */
  subscribeVerdict(client: AccessClient, filter: string): SubscribeVerdict {
    const f = this.files;
    if (f !== null && f.subscribeVerdict !== undefined && f.subscribeVerdict(client, filter) === 'deny') return 'deny';
    return 'partial';
  }

  canDeliver(client: AccessClient, topic: string): boolean {
    const f = this.files;
    if (f !== null && !(f.canDeliver !== undefined ? f.canDeliver(client, topic) : f.onACLCheck(client, topic, false))) return false;
    const st = (client.hookState ??= new DeliveryState(client, this.shard)) as DeliveryState;
    const known = st.answers.get(topic);
    if (known !== undefined && known.asking) return known.allowed;
    const list = this.hooks.list('onACLCheck') as Check[];
    for (let i = 0; i < list.length; i++) {
      let v: Maybe<Verdict>;
      try { v = list[i]!(st.client, topic, false); } catch { return false; }
      if (isThenable(v)) return this.later(st, topic, known, i, v);
      if (verdictCode(v, Reason.NOT_AUTHORIZED) !== 0) return false;
    }
    return true;
  }

  /** A promise at delivery: answered from what is known, the answer kept for the next message. */
  private later(st: DeliveryState, topic: string, known: Answer | undefined, i: number, pending: PromiseLike<Verdict>): boolean {
    const a = known ?? st.remember(topic);
    a.asking = true;
    this.hooks.decideAfter('onACLCheck', i, pending, Reason.NOT_AUTHORIZED, [st.client, topic, false]).then((code) => {
      a.allowed = code === 0;
      a.asking = false;
    });
    return a.allowed;
  }
}

interface Answer { allowed: boolean; asking: boolean }

/** Per guard: the client the modules are told of, and the topics answered by promises. */
class DeliveryState {
  readonly client: HookClient;
  readonly answers = new Map<string, Answer>();
  // An offline session's client has no address ('') and version 0.
  constructor(guard: AccessClient, shard: number) {
    this.client = new LazyClient(guard.clientId, guard.username, guard.conn()?.version ?? 0, shard, () => guard.conn()?.remote ?? '');
  }

  remember(topic: string): Answer {
    if (this.answers.size >= ANSWERS_MAX) this.answers.delete(this.answers.keys().next().value!);
    const a: Answer = { allowed: true, asking: false }; // before any answer: the SUBSCRIBE verdict
    this.answers.set(topic, a);
    return a;
  }
}

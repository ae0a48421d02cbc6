// A subscription as a session holds it, and how a filter as subscribed splits into the part
// that is matched and a shared-subscription group ($share/group/filter).
import { parseSharedSubscription } from '../../shared/topics/validate.ts';
import type { ClientGuard } from '../auth/access.ts';
import type { Session } from './session.ts';

export interface Subscription {
  session: Session;
  filter: string;        // as subscribed, including a $share/group/ prefix
  topicFilter: string;   // the part that is matched against topics
  group: string | null;  // shared subscription group
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number; // 0 = none
  /** set when delivery must ask the access hook (an ACL verdict 'partial', or after a reload); null = no check */
  guard: ClientGuard | null;
}

export function parseFilter(filter: string): { topicFilter: string; group: string | null } {
  const shared = parseSharedSubscription(filter);
  if (shared !== null && typeof shared === 'object') return { topicFilter: shared.filter, group: shared.group };
  return { topicFilter: filter, group: null };
}

// comqtt's ACL semantics for rows of (filter, access) of one user (its plugin/auth CheckAcl):
// access 0 denies, 1 allows reading (subscribe), 2 writing (publish), 3 both; of the rules that
// concern the topic, the one with the longest filter decides (a more specific rule wins over a
// wildcard: `a/#` allowed and `a/secret` denied, or the other way round); none: denied.
// A PUBLISH topic is concerned by the filters matching it. A SUBSCRIBE filter by the rules that
// cover all it can match (an allowing rule must grant every topic it would receive) and by the
// refusing rules that share a topic with it (so `a/#` is refused when `a/secret` is denied).
import { contains, meet } from '../../../shared/auth/filter-sets.ts';
import { topicMatches } from '../../../shared/topics/trie.ts';

export const ACCESS_DENY = 0;
export const ACCESS_READ = 1;
export const ACCESS_WRITE = 2;

export function comqttAcl(rules: Iterable<{ filter: string; access: number }>, topic: string, write: boolean): boolean {
  const want = write ? ACCESS_WRITE : ACCESS_READ;
  const levels = write ? null : topic.split('/');
  let best = -1;
  let verdict = false;
  for (const { filter, access } of rules) {
    const allows = (access & want) !== 0;
    const concerned = levels === null
      ? topicMatches(filter, topic)
      : allows ? contains(filter.split('/'), levels) : meet(filter.split('/'), levels) !== null;
    // equal lengths: a refusal wins, so the answer does not depend on the rows' order
    if (!concerned || filter.length < best || (filter.length === best && !verdict)) continue;
    best = filter.length;
    verdict = allows;
  }
  return verdict;
}

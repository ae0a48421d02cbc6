// Mosquitto's topic rules: `pattern [[[out|in|both] qos] local-prefix remote-prefix]`. A local
// topic under localPrefix + pattern goes out as remotePrefix + the rest, and back the other way.
import type { BridgeTopic } from '../../shared/config/bridges.ts';
import { topicMatches } from '../../shared/topics/trie.ts';

export interface Rule {
  qos: 0 | 1 | 2;
  /** Filter on the side the message comes from, and the prefixes to swap. */
  from: string;
  fromPrefix: string;
  toPrefix: string;
  localFilter: string;
  remoteFilter: string;
}

function rule(t: BridgeTopic, out: boolean): Rule {
  const localFilter = t.localPrefix + t.pattern, remoteFilter = t.remotePrefix + t.pattern;
  return {
    qos: t.qos, localFilter, remoteFilter,
    from: out ? localFilter : remoteFilter,
    fromPrefix: out ? t.localPrefix : t.remotePrefix,
    toPrefix: out ? t.remotePrefix : t.localPrefix,
  };
}

export const outRules = (topics: readonly BridgeTopic[]): Rule[] => topics.filter((t) => t.direction !== 'in').map((t) => rule(t, true));
export const inRules = (topics: readonly BridgeTopic[]): Rule[] => topics.filter((t) => t.direction !== 'out').map((t) => rule(t, false));

/** The topic on the other side for the first rule whose filter matches, or null. */
export function mapTopic(rules: readonly Rule[], topic: string): string | null {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (topicMatches(r.from, topic)) return r.fromPrefix === r.toPrefix ? topic : r.toPrefix + topic.slice(r.fromPrefix.length);
  }
  return null;
}

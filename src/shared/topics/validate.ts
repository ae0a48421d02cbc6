// Topic name / topic filter rules (spec §4.7, §4.8.2) on decoded JS strings.
// Byte-level UTF-8 well-formedness is the decoder's job (protocol/utf8.ts); here a lone
// surrogate is still caught because it can arrive through config or the admin API.
import { MAX_STRING_BYTES } from '../protocol/constants.ts';

export const TopicError = {
  /** zero-length name or filter [MQTT-4.7.3-1] */
  EMPTY: 'EMPTY',
  /** '+' or '#' in a topic name [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
  WILDCARD_IN_TOPIC: 'WILDCARD_IN_TOPIC',
  /** '#' followed by more characters [MQTT-4.7.1-2] */
  HASH_NOT_LAST: 'HASH_NOT_LAST',
  /** '#' sharing its level with other characters, as in 'a#' [MQTT-4.7.1-2] */
  HASH_NOT_ALONE: 'HASH_NOT_ALONE',
  /** '+' sharing its level with other characters [MQTT-4.7.1-3] */
  PLUS_NOT_ALONE: 'PLUS_NOT_ALONE',
  /** U+0000 [MQTT-4.7.3-2] */
  NULL_CHAR: 'NULL_CHAR',
  /** more than 65,535 bytes of UTF-8 [MQTT-4.7.3-3] */
  TOO_LONG: 'TOO_LONG',
  /** a lone surrogate: not encodable as UTF-8 [MQTT-1.5.4-1] */
  INVALID_UTF8: 'INVALID_UTF8',
  /** '$share/' with an empty ShareName [MQTT-4.8.2-1] */
  SHARE_EMPTY_GROUP: 'SHARE_EMPTY_GROUP',
  /** ShareName containing '+' or '#' [MQTT-4.8.2-2] */
  SHARE_INVALID_GROUP: 'SHARE_INVALID_GROUP',
  /** '$share/group' with no '/' and filter after the ShareName [MQTT-4.8.2-2] */
  SHARE_MISSING_FILTER: 'SHARE_MISSING_FILTER',
} as const;
export type TopicError = (typeof TopicError)[keyof typeof TopicError];

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

// A UTF-16 unit never encodes to more than 3 bytes, so only longer strings need counting.
function tooLong(s: string): boolean {
  return s.length * 3 > MAX_STRING_BYTES && Buffer.byteLength(s, 'utf8') > MAX_STRING_BYTES;
}

/** null when `name` is a valid PUBLISH / will topic name, else why not. */
export function validateTopicName(name: string): TopicError | null {
  const n = name.length;
  if (n === 0) return TopicError.EMPTY;
  let surrogate = false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === PLUS || c === HASH) return TopicError.WILDCARD_IN_TOPIC;
    if (c === 0) return TopicError.NULL_CHAR;
    if (c >= 0xd800 && c <= 0xdfff) surrogate = true;
  }
  if (surrogate && !name.isWellFormed()) return TopicError.INVALID_UTF8;
  if (tooLong(name)) return TopicError.TOO_LONG;
  return null;
}

/** null when `filter` is a valid SUBSCRIBE / UNSUBSCRIBE topic filter, else why not. */
export function validateTopicFilter(filter: string): TopicError | null {
  const n = filter.length;
  if (n === 0) return TopicError.EMPTY;
  let surrogate = false;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === HASH) {
      if (i !== n - 1) return TopicError.HASH_NOT_LAST;
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return TopicError.HASH_NOT_ALONE;
    } else if (c === PLUS) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== SLASH) || (i < n - 1 && filter.charCodeAt(i + 1) !== SLASH)) {
        return TopicError.PLUS_NOT_ALONE;
      }
    } else if (c === 0) {
      return TopicError.NULL_CHAR;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      surrogate = true;
    }
  }
  if (surrogate && !filter.isWellFormed()) return TopicError.INVALID_UTF8;
  if (tooLong(filter)) return TopicError.TOO_LONG;
  return null;
}

export interface SharedSubscription {
  /** the ShareName */
  group: string;
  /** the topic filter after `$share/group/` */
  filter: string;
}

const SHARE_PREFIX = '$share/';

/**
 * `$share/group/filter` → { group, filter }; null when `filter` is not a shared
 * subscription (including '$share' without a slash, an ordinary filter); an error code
 * when it starts with '$share/' but breaks [MQTT-4.8.2-1..2] or its inner filter is
 * invalid. Only the ShareName's '/' ends it, so the inner filter may contain '/'.
 */
export function parseSharedSubscription(filter: string): SharedSubscription | TopicError | null {
  if (!filter.startsWith(SHARE_PREFIX)) return null;
  const start = SHARE_PREFIX.length;
  const slash = filter.indexOf('/', start);
  const groupEnd = slash === -1 ? filter.length : slash;
  if (groupEnd === start) return TopicError.SHARE_EMPTY_GROUP;
  for (let i = start; i < groupEnd; i++) {
    const c = filter.charCodeAt(i);
    if (c === PLUS || c === HASH) return TopicError.SHARE_INVALID_GROUP;
    if (c === 0) return TopicError.NULL_CHAR;
  }
  if (slash === -1 || slash === filter.length - 1) return TopicError.SHARE_MISSING_FILTER;
  // The whole string is what travels on the wire, so its length is what the limit bounds.
  if (tooLong(filter)) return TopicError.TOO_LONG;
  const inner = filter.slice(slash + 1);
  const err = validateTopicFilter(inner);
  if (err !== null) return err;
  return { group: filter.slice(start, groupEnd), filter: inner };
}

/** Topics beginning with '$' are server-specific; wildcards at the first level skip them. */
export function isSystemTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  validateTopicName, validateTopicFilter, parseSharedSubscription, isSystemTopic, TopicError,
} from '../../src/shared/topics/validate.ts';

test('topic names: ordinary names are valid, including empty levels and spaces', () => {
  for (const t of ['a', 'a/b', '/', '//', '/a', 'a/', 'a//b', 'sport/tennis/player1', 'with space', '$SYS/x', 'é/東京/😀']) {
    assert.equal(validateTopicName(t), null, t);
  }
});

test('[MQTT-4.7.3-1] topic names and filters must be at least one character', () => {
  assert.equal(validateTopicName(''), TopicError.EMPTY);
  assert.equal(validateTopicFilter(''), TopicError.EMPTY);
});

test('[MQTT-3.3.2-2] [MQTT-4.7.1-1] topic names must not contain wildcards', () => {
  for (const t of ['+', '#', 'a/+', 'a/#', 'a+b', 'sport#', '+/x']) {
    assert.equal(validateTopicName(t), TopicError.WILDCARD_IN_TOPIC, t);
  }
});

test('[MQTT-4.7.3-2] topic names and filters must not contain U+0000', () => {
  assert.equal(validateTopicName('a\u0000b'), TopicError.NULL_CHAR);
  assert.equal(validateTopicFilter('a/\u0000'), TopicError.NULL_CHAR);
});

test('[MQTT-4.7.3-3] topic names and filters encode to at most 65535 bytes', () => {
  assert.equal(validateTopicName('a'.repeat(65_535)), null);
  assert.equal(validateTopicName('a'.repeat(65_536)), TopicError.TOO_LONG);
  assert.equal(validateTopicName('é'.repeat(32_768)), TopicError.TOO_LONG, 'counted in UTF-8 bytes');
  assert.equal(validateTopicFilter('a/'.repeat(32_767) + '#'), null);
  assert.equal(validateTopicFilter('é'.repeat(32_768)), TopicError.TOO_LONG);
});

test('[MQTT-1.5.4-1] a lone surrogate cannot be encoded as UTF-8', () => {
  assert.equal(validateTopicName('a/\ud800'), TopicError.INVALID_UTF8);
  assert.equal(validateTopicFilter('\udc00/#'), TopicError.INVALID_UTF8);
  assert.equal(validateTopicName('a/😀'), null, 'a surrogate pair is fine');
});

test('topic filters: the valid forms from spec §4.7', () => {
  for (const f of ['#', '+', 'a/#', 'a/+', '+/+', '+/tennis/#', 'sport/+/player1', '/+', '+/', '/#', 'a//b', '$SYS/#', '$share/g/x']) {
    assert.equal(validateTopicFilter(f), null, f);
  }
});

test("[MQTT-4.7.1-2] '#' must be the last character", () => {
  for (const f of ['#/a', 'a/#/b', '##', 'a/#/']) assert.equal(validateTopicFilter(f), TopicError.HASH_NOT_LAST, f);
});

test("[MQTT-4.7.1-2] '#' must be alone in its level", () => {
  for (const f of ['a#', 'sport/tennis#', 'a/b#']) assert.equal(validateTopicFilter(f), TopicError.HASH_NOT_ALONE, f);
});

test("[MQTT-4.7.1-3] '+' must occupy an entire level", () => {
  for (const f of ['a+', '+a', 'sport+', 'a/b+/c', '++', 'a/++']) assert.equal(validateTopicFilter(f), TopicError.PLUS_NOT_ALONE, f);
});

test('[MQTT-4.8.2-1] shared subscriptions parse into group and filter', () => {
  assert.deepEqual(parseSharedSubscription('$share/g/a/b'), { group: 'g', filter: 'a/b' });
  assert.deepEqual(parseSharedSubscription('$share/workers/#'), { group: 'workers', filter: '#' });
  assert.deepEqual(parseSharedSubscription('$share/g//'), { group: 'g', filter: '/' });
  assert.deepEqual(parseSharedSubscription('$share/g/$SYS/x'), { group: 'g', filter: '$SYS/x' });
});

test('shared subscriptions: other filters are not shared', () => {
  for (const f of ['a/b', '#', '$share', '$sharex/g/a', '$SHARE/g/a', 'x/$share/g/a']) {
    assert.equal(parseSharedSubscription(f), null, f);
  }
});

test('[MQTT-4.8.2-1] a ShareName is at least one character', () => {
  assert.equal(parseSharedSubscription('$share/'), TopicError.SHARE_EMPTY_GROUP);
  assert.equal(parseSharedSubscription('$share//a'), TopicError.SHARE_EMPTY_GROUP);
});

test("[MQTT-4.8.2-2] a ShareName has no '+' or '#' and is followed by '/' and a filter", () => {
  assert.equal(parseSharedSubscription('$share/+/a'), TopicError.SHARE_INVALID_GROUP);
  assert.equal(parseSharedSubscription('$share/g#/a'), TopicError.SHARE_INVALID_GROUP);
  assert.equal(parseSharedSubscription('$share/g'), TopicError.SHARE_MISSING_FILTER);
  assert.equal(parseSharedSubscription('$share/g/'), TopicError.SHARE_MISSING_FILTER);
  assert.equal(parseSharedSubscription('$share/g\u0000/a'), TopicError.NULL_CHAR);
});

test('shared subscriptions: the inner filter follows the filter rules', () => {
  assert.equal(parseSharedSubscription('$share/g/a/#/b'), TopicError.HASH_NOT_LAST);
  assert.equal(parseSharedSubscription('$share/g/a+'), TopicError.PLUS_NOT_ALONE);
  assert.equal(parseSharedSubscription('$share/g/' + 'a'.repeat(65_530)), TopicError.TOO_LONG);
});

test('[MQTT-4.7.2-1] $-topics are system topics', () => {
  assert.ok(isSystemTopic('$SYS/broker/uptime'));
  assert.ok(isSystemTopic('$'));
  assert.ok(!isSystemTopic('SYS/$'));
  assert.ok(!isSystemTopic(''));
});

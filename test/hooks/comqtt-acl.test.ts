// comqtt's ACL semantics as the PostgreSQL backend applies them to a user's rows (no database
// needed here; postgres-backend.test.ts runs the same through real PostgreSQL): access bits, the
// longest concerned filter decides, a refusal wins a tie, a SUBSCRIBE filter is refused when a
// more specific denying rule shares topics with it, and '$' topics are not matched by wildcards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comqttAcl } from '../../src/worker/hooks/backends/comqtt-acl.ts';

const rules = (...r: [string, number][]) => r.map(([filter, access]) => ({ filter, access }));

test('comqtt ACL: access 0-3, the longest matching filter decides, no rule denies', () => {
  const r = rules(['a/#', 3], ['a/secret', 0], ['feed/+/in', 1], ['out/me', 2]);
  assert.equal(comqttAcl(r, 'a/x', true), true);
  assert.equal(comqttAcl(r, 'a/secret', true), false);
  assert.equal(comqttAcl(r, 'feed/x/in', true), false); // read only
  assert.equal(comqttAcl(r, 'feed/x/in', false), true);
  assert.equal(comqttAcl(r, 'out/me', true), true);
  assert.equal(comqttAcl(r, 'out/me', false), false); // write only
  assert.equal(comqttAcl(r, 'other', true), false);
  assert.equal(comqttAcl([], 'a', false), false);
  // The other way round: a denied tree with one open topic.
  const open = rules(['b/#', 0], ['b/open', 3]);
  assert.equal(comqttAcl(open, 'b/open', true), true);
  assert.equal(comqttAcl(open, 'b/shut', true), false);
});

test('comqtt ACL: a tie of equal lengths is a refusal whatever the rows\' order', () => {
  for (const r of [rules(['t/+', 3], ['+/x', 0]), rules(['+/x', 0], ['t/+', 3])]) assert.equal(comqttAcl(r, 't/x', true), false);
});

test('comqtt ACL: SUBSCRIBE filters: covered by an allowing rule, refused where a longer denying rule overlaps', () => {
  const r = rules(['a/#', 3], ['a/secret', 0], ['c/+/t', 1]);
  assert.equal(comqttAcl(r, 'a/x/+', false), true);
  assert.equal(comqttAcl(r, 'a/#', false), false); // would receive a/secret
  assert.equal(comqttAcl(r, 'a/+', false), false);
  assert.equal(comqttAcl(r, 'c/+/t', false), true);
  assert.equal(comqttAcl(r, 'c/#', false), false); // wider than the rule
  assert.equal(comqttAcl(rules(['#', 3]), '$SYS/#', false), false); // [MQTT-4.7.2-1]
  assert.equal(comqttAcl(rules(['#', 3]), '$SYS/x', true), false);
});

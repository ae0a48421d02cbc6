// ACL denials are info lines, rate limited (issue #13): a hostile client that publishes,
// subscribes or leaves wills it may not, in a loop, gets one line per kind per shard every 5 s,
// while every denial is still counted in $SYS/broker/security/acl-denied/.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { collect, connect, end, endAll, eventually, publish, subscribe, uid } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only: its own log lines' : false;
const dir = mkdtempSync(join(tmpdir(), 'shoal-acl-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ACL = join(dir, 'acl');
// anonymous clients: read and write open/#, and read the counters
writeFileSync(ACL, 'topic readwrite open/#\ntopic read $SYS/broker/security/#\n');

const SHARDS = 2;
const b = useBroker({ shards: SHARDS, sysInterval: 1, extraArgs: ['--acl-file', ACL] });
const lines = (msg: string): number => b.broker.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;

test('ACL denial log lines are rate limited: 20 denied publishes, subscribes and wills give at most one line per kind per shard, all counted', { skip }, async () => {
  const N = 20;
  const c = await connect(b.url, { version: 5 });
  try {
    for (let i = 0; i < N; i++) await assert.rejects(publish(c, `closed/${i}`, 'x', { qos: 1 }), /Not authorized|135/);
    for (let i = 0; i < N; i++) await assert.rejects(subscribe(c, `closed/${i}`), /./);
  } finally { await end(c); }
  for (let i = 0; i < N; i++) {
    const w = await connect(b.url, { version: 4, clientId: uid('will'), will: { topic: 'closed/will', payload: Buffer.from('bye'), qos: 0, retain: false } });
    w.stream.destroy();
  }
  const sys = await connect(b.url);
  try {
    const got = collect(sys);
    await subscribe(sys, '$SYS/broker/security/acl-denied/#');
    const last = (kind: string): number => Number(got.messages.filter((m) => m.topic.endsWith(`/${kind}`)).at(-1)?.payload.toString() ?? 0);
    await eventually(() => last('publish') >= N && last('subscribe') >= N && last('will') >= N, 8000, 'every denial counted');
  } finally { await endAll([sys]); }
  assert.ok(lines('publish denied by the ACL') >= 1 && lines('publish denied by the ACL') <= SHARDS, `publish lines: ${lines('publish denied by the ACL')}`);
  assert.ok(lines('subscribe denied by the ACL') >= 1 && lines('subscribe denied by the ACL') <= SHARDS, `subscribe lines: ${lines('subscribe denied by the ACL')}`);
  assert.ok(lines('will not published: denied by the ACL') >= 1 && lines('will not published: denied by the ACL') <= SHARDS, `will lines: ${lines('will not published: denied by the ACL')}`);
});

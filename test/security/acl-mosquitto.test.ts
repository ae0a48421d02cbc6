// Differential: the same acl_file in Debian's mosquitto and in Shoal's checker. For a table of
// clients (anonymous, users with sections, a user with patterns only, names with '+' and '#')
// and topics, what mosquitto_sub receives on '#' (delivery: READ) and which publishes reach a
// reader of everything (WRITE) must be exactly what the checker answers. SUBSCRIBE itself is
// not compared: Mosquitto 2.0 grants every filter and filters at delivery, which is what
// canRead models (Shoal's stricter SUBACK verdict is tested in acl.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startBrokerOf, MOSQUITTO_BIN } from '../helpers/broker.ts';
import { run, startSub, dataLines } from '../helpers/mosquitto-cli.ts';
import { connect, eventually, sleep } from '../helpers/clients.ts';
import { Acl } from '../../src/shared/auth/acl.ts';

const skip = !existsSync(MOSQUITTO_BIN) || spawnSync('sh', ['-c', 'command -v mosquitto_sub']).status !== 0 ? 'Debian mosquitto / mosquitto-clients are not installed' : false;

const ACL = `# anonymous clients
topic read public/#
topic write anon/in

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read shared/+/status
topic read $SYS/broker/version

user bob
topic write shared/bob/status
topic read shared/#
topic deny shared/alice/#
topic write alice/inbox

user admin
topic readwrite #

pattern read devices/%c/cmd
pattern write devices/%c/state
pattern readwrite users/%u/#
pattern deny users/%u/locked
pattern read pre-%c/x
`;

const CLIENTS: { id: string; user?: string }[] = [
  { id: 'anon1' },
  { id: 'a1', user: 'alice' },
  { id: 'b1', user: 'bob' },
  { id: 'dev7', user: 'carol' },
  { id: 'dev+x', user: 'carol' },
  { id: 'evil', user: 'eve#' },
  { id: 'dev7b' },
];

const TOPICS = [
  'public/news', 'anon/in', 'alice/x', 'alice/inbox', 'alice/secret/k', 'shared/alice/status', 'shared/bob/status',
  'shared/bob/other', 'devices/dev7/cmd', 'devices/dev7/state', 'devices/a1/cmd', 'devices/dev7b/cmd',
  'users/alice/inbox', 'users/alice/locked', 'users/carol/inbox', 'users/carol/locked', 'users/bob/x',
  'pre-dev7/x', 'pre-a1/x', 'pre-anon1/x', 'other/topic',
];

test('READ and WRITE decisions of Shoal\'s checker equal what Debian\'s mosquitto delivers with the same acl_file', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-acl-'));
  const aclPath = join(dir, 'acl');
  writeFileSync(aclPath, ACL);
  const acl = Acl.load(aclPath);
  const extra = [`acl_file ${aclPath}`, 'sys_interval 1'];
  if (process.getuid?.() === 0) extra.unshift('user root');
  const broker = await startBrokerOf('mosquitto', { extraArgs: extra });
  // every other client speaks MQTT 5, the rest 3.1.1: the ACL decisions do not depend on the version
  const v5 = (c: { id: string }) => CLIENTS.indexOf(c as (typeof CLIENTS)[number]) % 2 === 1;
  const base = (c: { id: string; user?: string }) => ['-h', '127.0.0.1', '-p', String(broker.port), '-V', v5(c) ? '5' : '311', '-i', c.id, ...(c.user !== undefined ? ['-u', c.user] : [])];
  try {
    // READ: every client subscribes to '#' and '$SYS/broker/version' (retained), admin publishes every topic
    const subs = await Promise.all(CLIENTS.map((c) => startSub([...base(c), '-q', '1', '-t', '#', '-t', '$SYS/broker/version', '-F', 'DATA|%t'], 60_000)));
    const admin = await connect(broker.url, { clientId: 'admin-pub', username: 'admin', protocolVersion: 4 });
    for (const t of TOPICS) await admin.publishAsync(t, 'm', { qos: 1 });
    await sleep(800);
    for (const s of subs) s.proc.kill('SIGTERM');
    const outs = await Promise.all(subs.map((s) => s.done));
    CLIENTS.forEach((c, i) => {
      const got = [...new Set(dataLines(outs[i]!.stdout))].sort();
      const client = acl.forClient(c.id, c.user);
      const want = [...TOPICS, '$SYS/broker/version'].filter((t) => client.canRead(t)).sort();
      assert.deepEqual(got, want, `READ for ${c.id}/${c.user ?? '(anonymous)'}`);
    });

    // WRITE: every client publishes every topic with mosquitto_pub (QoS 1, payload = its id); a reader of everything collects
    const reader = await startSub(['-h', '127.0.0.1', '-p', String(broker.port), '-i', 'admin-sub', '-u', 'admin', '-q', '1', '-t', '#', '-F', 'DATA|%t|%p'], 60_000);
    let readerText = '';
    reader.proc.stdout!.on('data', (d) => { readerText += d; });
    await Promise.all(CLIENTS.map(async (c) => {
      const client = acl.forClient(c.id, c.user);
      for (const t of TOPICS) {
        // a denied QoS 1 publish is acknowledged either way (mosquitto_pub exits 0); in v5 the
        // PUBACK carries 0x87, which mosquitto_pub reports as "Not authorized"
        const r = await run('mosquitto_pub', [...base(c), '-q', '1', '-t', t, '-m', c.id]);
        assert.equal(r.code, 0, r.stderr);
        if (v5(c)) assert.equal(/Not authorized/.test(r.stderr), !client.canPublish(t), `v5 PUBACK reason for ${c.id} on ${t}: ${r.stderr}`);
      }
    }));
    await admin.publishAsync('zz/done', 'done', { qos: 1 });
    await eventually(() => readerText.includes('DATA|zz/done|done'), 20_000, 'the reader saw the end marker');
    reader.proc.kill('SIGTERM');
    const lines = dataLines((await reader.done).stdout);
    for (const c of CLIENTS) {
      const got = lines.filter((l) => l.endsWith(`|${c.id}`)).map((l) => l.slice(0, l.lastIndexOf('|'))).sort();
      const client = acl.forClient(c.id, c.user);
      const want = TOPICS.filter((t) => client.canPublish(t)).sort();
      assert.deepEqual(got, want, `WRITE for ${c.id}/${c.user ?? '(anonymous)'}`);
    }
    await admin.endAsync();
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

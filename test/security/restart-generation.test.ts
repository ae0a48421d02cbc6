// Defect of issue #13: a shard restarted after a crash read the password file and the ACL file
// from disk again, so it could hold a newer file than its siblings (reloaded by SIGHUP) or fail
// to start on a broken one. Main now keeps the texts it loaded (at start, then at each SIGHUP)
// and hands them to every shard it starts, so a restarted shard holds the same generation.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { collect, connect, connectClient, endAll, eventually, publish, sleep, subscribe, type MqttClient } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only' : spawnSync('sh', ['-c', 'command -v mosquitto_passwd']).status !== 0 ? 'mosquitto_passwd not installed' : false;
const dir = mkdtempSync(join(tmpdir(), 'shoal-restart-gen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const passwd = (...args: string[]): void => {
  const r = spawnSync('mosquitto_passwd', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
};
const aclOf = (gen: number): string => `user pub${gen}\ntopic write g${gen}/#\n\nuser sub\ntopic read g1/#\ntopic read g2/#\ntopic read g3/#\n`;

/** The shard of a client's log line `msg` (JSON logs: not a terminal). */
function shardOf(stderr: string, clientId: string, msg = 'client connected'): number | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.includes(`"msg":"${msg}`) || !line.includes(`"client":"${clientId}"`)) continue;
    return (JSON.parse(line) as { shard?: number }).shard;
  }
  return undefined;
}

/** What a login gets: 0 accepted, else the CONNACK refusal (v5 reason code). */
async function login(url: string, clientId: string, user: string, clients: MqttClient[]): Promise<number> {
  try {
    const c = await connectClient(url, { version: 5, clientId, username: user, password: `${user}-pw` });
    clients.push(c.client);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

test('restarted shard keeps the reloaded generation: after SIGHUP, a newer and then a broken file on disk do not reach a shard restarted by a crash', { skip, timeout: 90_000 }, async () => {
  const pw = join(dir, 'passwd');
  const acl = join(dir, 'acl');
  passwd('-c', '-b', pw, 'sub', 'sub-pw');
  passwd('-b', pw, 'pub1', 'pub1-pw');
  writeFileSync(acl, aclOf(1));
  const b = await startBroker({ shards: 2, testHooks: true, extraArgs: ['--password-file', pw, '--acl-file', acl] });
  const clients: MqttClient[] = [];
  try {
    // generation 2, loaded by SIGHUP: user pub2, who may write g2/#
    passwd('-b', pw, 'pub2', 'pub2-pw');
    writeFileSync(acl, aclOf(2));
    b.proc.kill('SIGHUP');
    await eventually(() => /reload: ACL file loaded/.test(b.stderr()) && /reload: password file loaded/.test(b.stderr()), 10_000, 'the SIGHUP reload');

    const sub = await connect(b.url, { version: 5, clientId: 'gen-sub', username: 'sub', password: 'sub-pw' }); // shard 0
    clients.push(sub);
    const got = collect(sub);
    await subscribe(sub, ['g1/#', 'g2/#', 'g3/#'], { qos: 1 });

    for (const [round, disk] of [['newer', 'new'], ['broken', 'broken']] as const) {
      // on disk, not reloaded: generation 3 (pub3, g3/#), then a file that does not parse
      if (disk === 'new') {
        passwd('-b', pw, 'pub3', 'pub3-pw');
        passwd('-D', pw, 'pub2');
        writeFileSync(acl, aclOf(3));
      } else {
        writeFileSync(pw, 'this is not a password file\n');
        writeFileSync(acl, 'topic bogus x\n');
      }
      const crasherId = `gen-crasher-${round}`;
      assert.equal(await login(b.url, crasherId, 'sub', clients), 0);
      await eventually(() => shardOf(b.stderr(), crasherId) !== undefined, 5000, 'the connect logged'); // log lines come asynchronously
      const crashed = shardOf(b.stderr(), crasherId);
      assert.equal(crashed, 1, 'the crasher is on the shard without clients');
      const restarts = (b.stderr().match(/"shard restarted"/g) ?? []).length;
      clients.at(-1)!.publish('$SHOAL/test/crash-shard', 'boom', { qos: 0 });
      await eventually(() => (b.stderr().match(/"shard restarted"/g) ?? []).length > restarts || /shard restart failed/.test(b.stderr()), 20_000, 'the shard restart');
      assert.doesNotMatch(b.stderr(), /shard restart failed/, `${round} file on disk: the shard restarts from main's texts`);

      // the restarted shard (fewest clients: new connections land there) holds generation 2
      assert.notEqual(await login(b.url, `gen-pub3-${round}`, 'pub3', clients), 0, `${round}: pub3, only in the file on disk, is refused`);
      await eventually(() => shardOf(b.stderr(), `gen-pub3-${round}`, 'login failed') !== undefined, 5000, 'the refusal logged');
      assert.equal(shardOf(b.stderr(), `gen-pub3-${round}`, 'login failed'), crashed, 'pub3 was refused by the restarted shard');
      await sleep(300); // its socket's close counted, so the restarted shard is again the least loaded
      assert.equal(await login(b.url, `gen-pub2-${round}`, 'pub2', clients), 0, `${round}: pub2, of the reloaded file, logs in`);
      await eventually(() => shardOf(b.stderr(), `gen-pub2-${round}`) !== undefined, 5000, 'the connect logged');
      assert.equal(shardOf(b.stderr(), `gen-pub2-${round}`), crashed, 'pub2 is on the restarted shard');
      const pub = clients.at(-1)!;
      await publish(pub, `g2/${round}`, 'allowed', { qos: 1 });
      await got.waitFor(1, 5000, (m) => m.topic === `g2/${round}`);
      await publish(pub, `g3/${round}`, 'denied', { qos: 1 }).catch(() => undefined); // PUBACK 0x87
      await sleep(300);
      assert.equal(got.messages.filter((m) => m.topic === `g3/${round}`).length, 0, `${round}: g3/# of the file on disk is not writable by pub2`);
      await endAll(clients.splice(1)); // keep only sub (shard 0)
      await sleep(200);
    }
    assert.ok(b.alive());
  } finally {
    await endAll(clients);
    await b.stop();
  }
});

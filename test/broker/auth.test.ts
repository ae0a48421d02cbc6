// Authentication: the users file, MQTT 5 enhanced authentication (SCRAM-SHA-256) and hook modules.
// User name / password from a users file (3.1.1 return codes 4/5, v5 reason codes 0x86/0x87),
// MQTT 5 enhanced authentication with the SCRAM-SHA-256 example hook (AUTH 0x18 exchange, CONNACK
// with the method and the server's final message, re-authentication with AUTH 0x19), failures
// (0x87, 0x8C, protocol errors during the exchange), and what a custom hook module may do (Server
// Reference with 0x9C/0x9D, answering later). Shoal only (the flags are Shoal's); 1 and 4 shards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { RawClient, codeOf, describeFrame, type Frame, type Received, type ReceivedPublish } from '../helpers/raw.ts';
import { uid, withTimeout } from '../helpers/clients.ts';
import { scramVerifier } from '../../src/worker/auth/users.ts';

const dir = mkdtempSync(join(tmpdir(), 'shoal-auth-'));
const usersFile = join(dir, 'users');
writeFileSync(usersFile, [
  '# test users',
  'alice:wonderland',
  `bob:${scramVerifier('builder', 4096)}`,
  '',
].join('\n'));
const hookModule = join(import.meta.dirname, '..', 'fixtures', 'auth-hook.ts');

// ---- client side of SCRAM-SHA-256 (RFC 5802 / 7677), written independently of the broker's ----
const hmac = (k: Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();
function scramClient(user: string, password: string) {
  const cnonce = randomBytes(18).toString('base64');
  const bare = `n=${user},r=${cnonce}`;
  let expectV = '';
  return {
    first: Buffer.from(`n,,${bare}`),
    final(serverFirst: Buffer): Buffer {
      const sf = serverFirst.toString();
      const f = Object.fromEntries(sf.split(',').map((kv) => [kv[0], kv.slice(2)]));
      assert.ok(f.r!.startsWith(cnonce), `server nonce extends ours: ${sf}`);
      const salted = pbkdf2Sync(password, Buffer.from(f.s!, 'base64'), Number(f.i), 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const noProof = `c=biws,r=${f.r}`;
      const authMessage = `${bare},${sf},${noProof}`;
      const sig = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
      expectV = `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`;
      return Buffer.from(`${noProof},p=${proof.toString('base64')}`);
    },
    verify(serverFinal: Buffer | undefined): void { assert.equal(serverFinal?.toString(), expectV, 'server signature'); },
  };
}

type Props = Record<string, unknown>;
const propsOf = (p: Frame): Props => ((p as { properties?: Props }).properties ?? {});

/** Only a CONNACK/DISCONNECT with `reason` may precede the close. */
async function closedWith(c: RawClient, cmd: 'connack' | 'disconnect', reason: number, what: string): Promise<Frame> {
  const frames = await c.expectClose(5000);
  assert.equal(frames.length, 1, `${what}: expected one ${cmd.toUpperCase()} then close, got ${frames.map(describeFrame).join('; ') || 'nothing'}`);
  const f = frames[0]!;
  assert.equal(f.cmd, cmd, `${what}: ${describeFrame(f)}`);
  assert.equal(codeOf(f), reason, `${what}: ${describeFrame(f)}`);
  return f;
}

for (const shards of [1, 4] as const) {
  describe(`auth hook, ${shards} shard${shards > 1 ? 's' : ''}`, { skip: isMosquitto ? 'Shoal only: --auth-users / --auth-hook' : undefined, concurrency: false }, () => {
    const h = useBroker({ shards, extraArgs: ['--auth-users', usersFile, '--auth-hook', hookModule] });

    async function open(version: 4 | 5): Promise<RawClient> { return RawClient.open(h.port, { version }); }
    function connect(c: RawClient, version: 4 | 5, extra: Props = {}): void {
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 30, clientId: uid('auth'), ...extra } as never);
    }

    /** SCRAM login over raw packets; returns the connected client. */
    async function scramLogin(user: string, password: string, props: Props = {}): Promise<RawClient> {
      const c = await open(5);
      const sc = scramClient(user, password);
      connect(c, 5, { properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.first, ...props } });
      const a = await c.expectPacket('auth');
      assert.equal(codeOf(a), 0x18, describeFrame(a));
      assert.equal(propsOf(a).authenticationMethod, 'SCRAM-SHA-256', '[MQTT-4.12.0-5] same method in the server\'s AUTH');
      c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.final(propsOf(a).authenticationData as Buffer) } } as never);
      const ack = await c.expectPacket('connack');
      assert.equal(codeOf(ack), 0, describeFrame(ack));
      assert.equal(propsOf(ack).authenticationMethod, 'SCRAM-SHA-256', 'CONNACK carries the method');
      sc.verify(propsOf(ack).authenticationData as Buffer);
      return c;
    }

    for (const version of [4, 5] as const) {
      const bad = version === 5 ? 0x86 : 4;
      const notAuth = version === 5 ? 0x87 : 5;
      test(`${version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'}: [MQTT-3.1.4-2] [MQTT-3.2.2-6] [MQTT-3.2.2-7] user name / password from the users file: accepted, wrong password ${bad}, unknown user ${bad}, anonymous ${notAuth}`, async () => {
        const cases: Array<[Props, number, string]> = [
          [{ username: 'alice', password: Buffer.from('wonderland') }, 0, 'plain entry'],
          [{ username: 'bob', password: Buffer.from('builder') }, 0, 'SCRAM verifier entry (checked off the event loop)'],
          [{ username: 'alice', password: Buffer.from('wonderlanD') }, bad, 'wrong password'],
          [{ username: 'bob', password: Buffer.from('build') }, bad, 'wrong password, verifier entry'],
          [{ username: 'carol', password: Buffer.from('x') }, bad, 'unknown user'],
          [{}, notAuth, 'anonymous'],
        ];
        for (const [extra, code, what] of cases) {
          const c = await open(version);
          try {
            connect(c, version, extra);
            if (code === 0) {
              const ack = await c.expectPacket('connack');
              assert.equal(codeOf(ack), 0, `${what}: ${describeFrame(ack)}`);
              // No Authentication Method in CONNECT: none in CONNACK, and no AUTH [MQTT-4.12.0-6].
              assert.equal(propsOf(ack).authenticationMethod, undefined);
            } else {
              const f = await closedWith(c, 'connack', code, what); // refusal then close
              assert.equal(f.raw[2]! & 1, 0, 'Session Present 0 with a refusal');
            }
          } finally { c.destroy(); }
        }
      });

      test(`${version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'}: a hook answering later holds pipelined packets and processes them in order after CONNACK`, async () => {
        const topic = uid('slow');
        const c = await open(version);
        try {
          connect(c, version, { username: 'slow', password: Buffer.from('x') });
          c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never);
          c.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('own'), qos: 1, messageId: 2, retain: false, dup: false } as never);
          const ack = await c.expectPacket('connack');
          assert.equal(codeOf(ack), 0);
          await c.waitFor('suback');
          await c.waitFor('puback');
          const p = await c.waitFor('publish') as ReceivedPublish;
          assert.equal(p.payload.toString(), 'own');
        } finally { c.destroy(); }
      });

      test(`${version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'}: hook refusals: later ${bad}, a failing hook, Server Reference with ${version === 5 ? '0x9D / 0x9C' : 'return code 3'}`, async () => {
        for (const [username, code] of [['slowfail', bad], ['throws', version === 5 ? 0x80 : 3], ['moved', version === 5 ? 0x9d : 3], ['elsewhere', version === 5 ? 0x9c : 3]] as const) {
          const c = await open(version);
          try {
            connect(c, version, { username, password: Buffer.from('x') });
            const f = await closedWith(c, 'connack', code, username);
            if (version === 5 && username === 'moved') {
              assert.equal(propsOf(f).serverReference, 'other.example:1883');
              assert.equal(propsOf(f).reasonString, 'this broker moved');
            }
            if (version === 5 && username === 'elsewhere') assert.equal(propsOf(f).serverReference, 'spare.example:1883');
          } finally { c.destroy(); }
        }
      });
    }

    test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] SCRAM-SHA-256: AUTH 0x18 exchange, CONNACK with the server signature; then publish/subscribe across clients', async () => {
      const topic = uid('scram');
      const sub = await scramLogin('bob', 'builder');
      const pub = await scramLogin('alice', 'wonderland'); // a plain password entry works for SCRAM too
      try {
        await sub.subscribe(topic, 1);
        pub.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('hi'), qos: 1, messageId: 7, retain: false, dup: false } as never);
        await pub.expectPacket('puback');
        const p = await sub.waitFor('publish') as ReceivedPublish;
        assert.equal(p.payload.toString(), 'hi');
      } finally { sub.destroy(); pub.destroy(); }
    });

    test('[MQTT-4.12.0-4] SCRAM-SHA-256 with a wrong password or an unknown user: the exchange runs, then CONNACK 0x87 and close', async () => {
      for (const [user, pw] of [['bob', 'wrong'], ['nobody', 'builder']] as const) {
        const c = await open(5);
        try {
          const sc = scramClient(user, pw);
          connect(c, 5, { properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.first } });
          const a = await c.expectPacket('auth');
          assert.equal(codeOf(a), 0x18);
          c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.final(propsOf(a).authenticationData as Buffer) } } as never);
          await closedWith(c, 'connack', 0x87, `${user}/${pw}`);
        } finally { c.destroy(); }
      }
    });

    test('[MQTT-3.1.4-6] packets sent behind a refused CONNECT are not processed (a hook answering later)', async () => {
      const topic = uid('refused');
      const watcher = await open(5);
      connect(watcher, 5, { username: 'alice', password: Buffer.from('wonderland') });
      await watcher.expectPacket('connack');
      await watcher.subscribe(topic, 0);
      const c = await open(4);
      try {
        connect(c, 4, { username: 'slowfail', password: Buffer.from('x') });
        c.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('must not pass'), qos: 0, retain: false, dup: false } as never);
        await closedWith(c, 'connack', 4, 'refused later');
        await watcher.expectNothing(300);
      } finally { c.destroy(); watcher.destroy(); }
    });

    test('[MQTT-3.2.2-19] a refusal\'s Reason String is left out when the CONNACK would exceed the client\'s Maximum Packet Size; the Server Reference fits', async () => {
      const c = await open(5);
      try {
        connect(c, 5, { username: 'moved', password: Buffer.from('x'), properties: { maximumPacketSize: 30 } });
        const f = await closedWith(c, 'connack', 0x9d, 'moved, small client');
        assert.ok(f.raw.length <= 30, `${f.raw.length} bytes`);
        assert.equal(propsOf(f).reasonString, undefined);
        assert.equal(propsOf(f).serverReference, 'other.example:1883');
      } finally { c.destroy(); }
    });

    test('[MQTT-3.15.1-1] AUTH with reserved flags set is malformed: DISCONNECT 0x81 and close', async () => {
      const c = await scramLogin('bob', 'builder');
      try {
        c.send(Buffer.from([0xf1, 0x00]));
        await closedWith(c, 'disconnect', 0x81, 'AUTH flags 0001');
      } finally { c.destroy(); }
    });

    test('[MQTT-4.12.0-1] an Authentication Method the hook does not support: CONNACK 0x8C and close', async () => {
      const c = await open(5);
      try {
        connect(c, 5, { properties: { authenticationMethod: 'KERBEROS', authenticationData: Buffer.from('x') } });
        await closedWith(c, 'connack', 0x8c, 'unknown method');
      } finally { c.destroy(); }
    });

    test('[MQTT-3.1.2-30] [MQTT-3.14.0-1] a packet other than AUTH/DISCONNECT during the exchange, or AUTH with another method or reason: CONNACK 0x82 and close', async () => {
      const cases: Array<[string, (c: RawClient) => void]> = [
        ['PINGREQ', (c) => c.sendPacket({ cmd: 'pingreq' } as never)],
        ['SUBSCRIBE', (c) => c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] } as never)],
        ['AUTH with another method', (c) => c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('x') } } as never)],
        ['AUTH 0x19 before CONNACK', (c) => c.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('x') } } as never)],
      ];
      for (const [what, send] of cases) {
        const c = await open(5);
        try {
          connect(c, 5, { properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: scramClient('bob', 'builder').first } });
          await c.expectPacket('auth');
          send(c);
          await closedWith(c, 'connack', 0x82, what);
        } finally { c.destroy(); }
      }
    });

    test('[MQTT-4.12.1-1] re-authentication: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 with the server signature; the connection carries on', async () => {
      const c = await scramLogin('bob', 'builder');
      try {
        for (let round = 0; round < 2; round++) {
          const sc = scramClient('bob', 'builder');
          c.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.first } } as never);
          const a = await c.expectPacket('auth');
          assert.equal(codeOf(a), 0x18, describeFrame(a));
          c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.final(propsOf(a).authenticationData as Buffer) } } as never);
          const done = await c.expectPacket('auth');
          assert.equal(codeOf(done), 0x00, describeFrame(done));
          assert.equal(propsOf(done).authenticationMethod, 'SCRAM-SHA-256');
          sc.verify(propsOf(done).authenticationData as Buffer);
        }
        c.sendPacket({ cmd: 'pingreq' } as never);
        await c.expectPacket('pingresp');
      } finally { c.destroy(); }
    });

    test('[MQTT-4.12.1-2] a failed re-authentication: DISCONNECT 0x87 and close; another method in AUTH 0x19: DISCONNECT 0x82', async () => {
      const c = await scramLogin('bob', 'builder');
      try {
        const sc = scramClient('bob', 'not-builder');
        c.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.first } } as never);
        const a = await c.expectPacket('auth');
        c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.final(propsOf(a).authenticationData as Buffer) } } as never);
        await closedWith(c, 'disconnect', 0x87, 'failed re-authentication');
      } finally { c.destroy(); }
      const d = await scramLogin('bob', 'builder');
      try {
        d.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('x') } } as never);
        await closedWith(d, 'disconnect', 0x82, 'AUTH 0x19 with another method');
      } finally { d.destroy(); }
    });

    test('AUTH from a client whose CONNECT had no Authentication Method: DISCONNECT 0x82 (protocol error)', async () => {
      const c = await open(5);
      try {
        connect(c, 5, { username: 'alice', password: Buffer.from('wonderland') });
        assert.equal(codeOf(await c.expectPacket('connack')), 0);
        c.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256' } } as never);
        await closedWith(c, 'disconnect', 0x82, 'AUTH without method');
      } finally { c.destroy(); }
    });

    test('a hook method whose steps answer later (TOKEN): exchange, re-authentication, and a re-authentication ending in DISCONNECT 0x9D with Server Reference', async () => {
      const c = await open(5);
      try {
        connect(c, 5, { properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('hello') } });
        const a = await c.expectPacket('auth');
        assert.equal((propsOf(a).authenticationData as Buffer).toString(), 'challenge');
        c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('response') } } as never);
        const ack = await c.expectPacket('connack');
        assert.equal(codeOf(ack), 0);
        assert.equal((propsOf(ack).authenticationData as Buffer).toString(), 'welcome');
        c.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN' } } as never);
        c.sendPacket({ cmd: 'pingreq' } as never); // other packets keep flowing during a re-authentication
        await c.waitFor('pingresp');
        const again = await c.waitFor('auth');
        assert.equal((propsOf(again).authenticationData as Buffer).toString(), 'challenge-again');
        c.sendPacket({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('response-moved') } } as never);
        const f = await closedWith(c, 'disconnect', 0x9d, 'moved at re-authentication');
        assert.equal(propsOf(f).serverReference, 'other.example:1883');
      } finally { c.destroy(); }
    });

    test('MQTT.js (handleAuth) logs in with SCRAM-SHA-256 and receives what another client publishes', async () => {
      const topic = uid('mqttjs-scram');
      const sc = scramClient('alice', 'wonderland');
      const client = mqtt.connect(h.url, {
        protocolVersion: 5, clientId: uid('js'), reconnectPeriod: 0, connectTimeout: 5000,
        properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.first },
      });
      client.handleAuth = (packet, cb) => {
        const data = packet.properties?.authenticationData as Buffer;
        cb(undefined, { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: sc.final(data) } });
      };
      try {
        const connack = await withTimeout(new Promise<Received>((res, rej) => { client.once('connect', (p) => res(p as never)); client.once('error', rej); }), 6000, 'MQTT.js SCRAM connect');
        sc.verify((connack as unknown as { properties?: Props }).properties?.authenticationData as Buffer);
        await client.subscribeAsync(topic, { qos: 1 });
        const got = new Promise<string>((res) => client.once('message', (_t, m) => res(m.toString())));
        const pub = await scramLogin('bob', 'builder');
        pub.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('to mqtt.js'), qos: 0, retain: false, dup: false } as never);
        assert.equal(await withTimeout(got, 5000, 'message'), 'to mqtt.js');
        pub.destroy();
      } finally { client.end(true); }
    });
  });
}

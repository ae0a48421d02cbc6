// Bad input on the TLS and WebSocket ports costs that socket only: plain bytes on a TLS port,
// garbage HTTP, a request that is not an upgrade, an upgrade with a wrong or no subprotocol or
// a bad key, a TLS client that stalls mid-handshake, sockets that never speak. Each is closed
// (with an HTTP error where one fits; the stalled ones after --connect-timeout), while one
// client per transport, connected before, keeps working; $SYS counts the failed handshakes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { connect, endAll, uid, type MqttClient } from '../helpers/clients.ts';
import { assertAlive, hasOpenssl, skipWithoutOpenssl, sysValue, testCerts, transportArgs } from '../helpers/tls.ts';

const certs = hasOpenssl ? testCerts() : null;
const skip = skipWithoutOpenssl || (isMosquitto ? 'Shoal only: its own transport flags' : false);
const TIMEOUT_MS = 600; // --connect-timeout: also the handshake timeout
const SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'];

interface Outcome { closedAfterMs: number; response: string }

/** Connects (plain TCP, or TLS when `secure`), sends `bytes`, and reports what came back and when the server closed. */
function exchange(port: number, bytes: Buffer | string, secure = false, limitMs = 5000): Promise<Outcome> {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    let response = '';
    const s: net.Socket = secure
      ? tls.connect({ port, host: '127.0.0.1', ca: certs!.ca }, () => { if (bytes.length > 0) s.write(bytes); })
      : net.connect(port, '127.0.0.1', () => { if (bytes.length > 0) s.write(bytes); });
    const timer = setTimeout(() => { s.destroy(); rej(new Error(`the server did not close the socket within ${limitMs} ms (got ${JSON.stringify(response.slice(0, 200))})`)); }, limitMs);
    s.on('data', (d: Buffer) => { response += d.toString('latin1'); });
    s.on('error', () => { /* a reset is a close too */ });
    s.on('close', () => { clearTimeout(timer); res({ closedAfterMs: Date.now() - t0, response }); });
  });
}

const upgradeRequest = (headers: Record<string, string>): string =>
  `GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries({ Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers }).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;

const CONNECT_311 = Buffer.from('101000044d5154540402003c000474657374', 'hex'); // CONNECT, client id "test"

describe('bad input on the TLS and WebSocket ports costs that socket only', { skip }, () => {
  const h = useBroker({ shards: 2, sysInterval: 1, extraArgs: certs === null ? [] : transportArgs(certs, ['--connect-timeout', String(TIMEOUT_MS)]) });
  const port = (scheme: string): number => Number(new URL(h.broker.urls[scheme]!).port);
  let healthy: MqttClient[] = [];
  let failedBefore = 0;

  before(async () => {
    for (const [i, scheme] of SCHEMES.entries()) healthy.push(await connect(h.broker.urls[scheme]!, { version: i % 2 === 0 ? 4 : 5, ca: certs!.ca, clientId: uid(`ok-${scheme}`) }));
    failedBefore = Number(await sysValue(healthy[0]!, 'connections/handshakes-failed'));
  });
  after(async () => { await endAll(healthy); healthy = []; });

  async function allAlive(what: string): Promise<void> {
    for (const [i, c] of healthy.entries()) await assertAlive(c, `${SCHEMES[i]} client after ${what}`);
  }

  test('a plain MQTT CONNECT on the TLS port and on the WSS port: closed at once', async () => {
    for (const scheme of ['mqtts', 'wss']) {
      const o = await exchange(port(scheme), CONNECT_311);
      assert.ok(o.closedAfterMs < TIMEOUT_MS, `${scheme}: closed after ${o.closedAfterMs} ms`);
      assert.ok(!o.response.includes('\x20\x02'), `${scheme}: no CONNACK`);
    }
    await allAlive('plain bytes on the TLS ports');
  });

  test('garbage on the WS port: HTTP 400 and closed; plain MQTT on the WS port too', async () => {
    for (const bytes of [Buffer.from('\x00\x01\x02 not http at all\r\n\r\n', 'latin1'), CONNECT_311]) {
      const o = await exchange(port('ws'), bytes);
      assert.match(o.response, /^HTTP\/1\.1 400 /);
    }
    await allAlive('garbage on the WebSocket port');
  });

  test('an HTTP request that is not an upgrade: 426 Upgrade Required', async () => {
    const o = await exchange(port('ws'), 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.match(o.response, /^HTTP\/1\.1 426 /);
    await allAlive('a plain HTTP request');
  });

  test('an upgrade offering another subprotocol, none, or with a bad key: 400, over ws and wss', async () => {
    for (const [scheme, secure] of [['ws', false], ['wss', true]] as const) {
      const refused: Record<string, string>[] = [{ 'Sec-WebSocket-Protocol': 'chat, superchat' }, {}, { 'Sec-WebSocket-Protocol': 'mqtt', 'Sec-WebSocket-Key': 'short' }];
      for (const headers of refused) {
        const o = await exchange(port(scheme), upgradeRequest(headers), secure);
        assert.match(o.response, /^HTTP\/1\.1 400 /, `${scheme} ${JSON.stringify(headers)}`);
      }
    }
    // The same request with the right subprotocol is upgraded (the requests above were refused for what they lacked).
    const ok = await new Promise<string>((res, rej) => {
      const s = net.connect(port('ws'), '127.0.0.1', () => s.write(upgradeRequest({ 'Sec-WebSocket-Protocol': 'mqtt' })));
      s.once('data', (d) => { s.destroy(); res(d.toString()); });
      s.on('error', rej);
    });
    assert.match(ok, /^HTTP\/1\.1 101 [^]*Sec-WebSocket-Protocol: mqtt\r\n/i);
    await allAlive('refused upgrades');
  });

  test('a TLS client that stalls mid-handshake, and sockets that never speak, are closed after --connect-timeout', async () => {
    // A TLS record header announcing a 512-byte ClientHello, then 4 bytes of it, then nothing.
    const stalled = Buffer.from('1603010200' + '01000200', 'hex');
    const cases: [string, Promise<Outcome>][] = [
      ['mqtts, stalled ClientHello', exchange(port('mqtts'), stalled)],
      ['wss, stalled ClientHello', exchange(port('wss'), stalled)],
      ['mqtts, silent', exchange(port('mqtts'), '')],
      ['ws, silent', exchange(port('ws'), '')],
      ['ws, half an HTTP request', exchange(port('ws'), 'GET /mqtt HTTP/1.1\r\nHost: x\r\n')],
      ['wss, TLS done then silent', exchange(port('wss'), '', true)],
    ];
    for (const [what, p] of cases) {
      const o = await p;
      assert.ok(o.closedAfterMs >= TIMEOUT_MS - 100 && o.closedAfterMs < TIMEOUT_MS + 2000, `${what}: closed after ${o.closedAfterMs} ms (timeout ${TIMEOUT_MS})`);
    }
    await allAlive('stalled handshakes');
  });

  test('$SYS/broker/connections/handshakes-failed counts the failed handshakes', async () => {
    // 2 + 2 + 1 + 6 + 6 refused or timed out above (the accepted upgrade is not a failure).
    const v = await sysValue(healthy[2]!, 'connections/handshakes-failed', (x) => Number(x) >= failedBefore + 17);
    assert.equal(Number(v), failedBefore + 17, 'each failure counted once');
  });
});

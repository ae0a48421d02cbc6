// The REST endpoints main answers alone, on a 4-shard broker, in comqtt's shapes (mqtt/rest):
// a bare JSON value on success; errors as {"code", "message"}.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { connect, endAll, eventually, publish, uid, type MqttClient } from '../helpers/clients.ts';
import type { Broker } from '../helpers/broker.ts';
import { request, startAdminBroker } from './helpers.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
// comqtt's system.Info, field by field.
const OVERALL_KEYS = ['version', 'started', 'time', 'uptime', 'bytes_received', 'bytes_sent', 'clients_connected', 'clients_disconnected', 'clients_maximum', 'clients_total', 'messages_received', 'messages_sent', 'messages_dropped', 'retained', 'inflight', 'inflight_dropped', 'subscriptions', 'packets_received', 'packets_sent', 'memory_alloc', 'threads'];

type Overall = Record<string, number | string>;

describe('admin REST API answered by main', () => {
  let b: Broker & { admin: string };
  before(async () => { b = await startAdminBroker({ shards: 4, extraArgs: ['--max-qos', '1', '--receive-maximum', '50', '--shared-subscriptions=false', '--sys-interval', '7'] }); });
  after(async () => { await b?.stop(); });

  const get = async (path: string): Promise<unknown> => {
    const a = await request(`${b.admin}${path}`);
    assert.equal(a.status, 200, `${path}: ${a.text}`);
    assert.match(String(a.headers['content-type']), /^application\/json/);
    return a.json();
  };

  test('stat/online is the number of connected clients over all shards, as a bare number', async () => {
    const before0 = await get('/api/v1/mqtt/stat/online');
    assert.equal(typeof before0, 'number');
    const clients: MqttClient[] = [];
    try {
      for (let i = 0; i < 5; i++) clients.push(await connect(b.url, { version: i % 2 ? 5 : 4 }));
      await eventually(async () => (await get('/api/v1/mqtt/stat/online')) === (before0 as number) + 5, 5000, '5 more online');
      await endAll(clients);
      await eventually(async () => (await get('/api/v1/mqtt/stat/online')) === before0, 5000, 'back to before');
    } finally {
      await endAll(clients);
    }
  });

  test('stat/overall has comqtt\'s fields, and its counters move with traffic', async () => {
    const t0 = await get('/api/v1/mqtt/stat/overall') as Overall;
    assert.deepEqual(Object.keys(t0), OVERALL_KEYS);
    assert.equal(t0.version, VERSION);
    assert.equal(t0.threads, 5);
    assert.ok((t0.started as number) <= (t0.time as number) && t0.uptime === (t0.time as number) - (t0.started as number));
    assert.ok((t0.memory_alloc as number) > 1e6);
    const clients: MqttClient[] = [];
    try {
      const pub = await connect(b.url);
      const persistent = uid('keep');
      const p = await connect(b.url, { clientId: persistent, clean: false });
      clients.push(pub, p);
      await p.subscribeAsync(`rest/${persistent}`, { qos: 1 });
      for (let k = 0; k < 10; k++) await publish(pub, `rest/${persistent}`, 'hello', { qos: 1 });
      await publish(pub, `rest/${persistent}/kept`, 'r', { qos: 1, retain: true });
      await eventually(async () => ((await get('/api/v1/mqtt/stat/overall')) as Overall).messages_sent === (t0.messages_sent as number) + 10, 5000, '10 sent');
      const t1 = await get('/api/v1/mqtt/stat/overall') as Overall;
      assert.equal(t1.clients_connected, (t0.clients_connected as number) + 2);
      assert.ok((t1.clients_maximum as number) >= (t1.clients_connected as number));
      assert.equal(t1.messages_received, (t0.messages_received as number) + 11);
      assert.equal(t1.subscriptions, (t0.subscriptions as number) + 1);
      assert.ok((t1.bytes_received as number) > (t0.bytes_received as number));
      assert.ok((t1.bytes_sent as number) > (t0.bytes_sent as number));
      assert.ok((t1.packets_received as number) > (t0.packets_received as number));
      assert.ok((t1.retained as number) >= 1);
      await endAll([p]);
      await eventually(async () => ((await get('/api/v1/mqtt/stat/overall')) as Overall).clients_disconnected === (t0.clients_disconnected as number) + 1, 5000, 'the persistent session offline');
      const t2 = await get('/api/v1/mqtt/stat/overall') as Overall;
      assert.equal(t2.clients_total, (t2.clients_connected as number) + (t2.clients_disconnected as number));
      assert.ok((t2.clients_maximum as number) >= (t1.clients_connected as number), 'the high-water mark stays');
    } finally {
      await endAll(clients);
    }
  });

  test('config shows the flags as comqtt Capabilities and Shoal\'s own fields', async () => {
    const c = await get('/api/v1/mqtt/config') as { Capabilities: Record<string, number>; SysTopicResendInterval: number; InlineClient: boolean; shoal: Record<string, unknown> };
    assert.equal(c.Capabilities.MaximumQos, 1);
    assert.equal(c.Capabilities.ReceiveMaximum, 50);
    assert.equal(c.Capabilities.SharedSubAvailable, 0);
    assert.equal(c.Capabilities.WildcardSubAvailable, 1);
    assert.equal(c.Capabilities.MaximumPacketSize, 1024 * 1024);
    assert.equal(c.SysTopicResendInterval, 7);
    assert.equal(c.InlineClient, false);
    assert.equal(c.shoal.shards, 4);
    assert.equal(c.shoal.maxQos, 1);
    assert.equal(c.shoal.httpToken, '');
  });

  test('errors are JSON with stable codes: unknown path 404, wrong method 405 with Allow', async () => {
    const nf = await request(`${b.admin}/api/v1/mqtt/nothing`);
    assert.equal(nf.status, 404);
    assert.deepEqual(Object.keys(nf.json() as object), ['code', 'message']);
    assert.equal((nf.json() as { code: string }).code, 'SHOAL_HTTP_NOT_FOUND');
    for (const method of ['POST', 'DELETE', 'PUT']) {
      const a = await request(`${b.admin}/api/v1/mqtt/stat/online`, { method });
      assert.equal(a.status, 405, method);
      assert.equal(a.headers.allow, 'GET');
      assert.equal((a.json() as { code: string }).code, 'SHOAL_HTTP_METHOD_NOT_ALLOWED');
    }
    // HEAD is GET without the body; a query string does not change the path.
    const head = await request(`${b.admin}/api/v1/mqtt/stat/online`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await request(`${b.admin}/api/v1/mqtt/stat/online?x=1`)).status, 200);
  });

  test('a request target that is no URL gets 400 JSON, and the port keeps serving', async () => {
    const { port } = new URL(b.admin);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(port), '127.0.0.1', () => s.end('GET //[x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
      let text = '';
      s.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => resolve(text)).on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"code":"SHOAL_HTTP_BAD_REQUEST"/);
    assert.equal((await request(`${b.admin}/health`)).status, 200);
    assert.ok(b.alive());
  });
});

// The access seam from a module: an --auth-hook whose hook implements onACLCheck decides
// PUBLISH and delivery, without an ACL file (test/fixtures/acl-hook.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isMosquitto } from '../helpers/broker.ts';
import { useBroker } from '../helpers/matrix.ts';
import { collect, connect, endAll, publish, sleep, subscribe } from '../helpers/clients.ts';

const skip = isMosquitto ? 'Shoal only' : false;
const b = useBroker({ shards: 2, extraArgs: ['--auth-hook', join(import.meta.dirname, '..', 'fixtures', 'acl-hook.ts')] });

test('an --auth-hook with onACLCheck refuses PUBLISH (v5 0x87) and filters delivery per client', { skip }, async () => {
  const reader = await connect(b.url, { version: 5, clientId: 'reader' });
  const other = await connect(b.url, { version: 5, clientId: 'other' });
  const pub = await connect(b.url, { version: 5 });
  try {
    const r = collect(reader);
    const o = collect(other);
    await subscribe(reader, '#');
    await subscribe(other, '#');
    await assert.rejects(publish(pub, 'forbidden/x', 'no', { qos: 1 }), /Not authorized|135/);
    await publish(pub, 'private/x', 'secret', { qos: 1 });
    await publish(pub, 'public/x', 'hello', { qos: 1 });
    await r.waitFor(2);
    await o.waitFor(1);
    await sleep(200);
    assert.deepEqual(r.topics().sort(), ['private/x', 'public/x']);
    assert.deepEqual(o.topics(), ['public/x']);
  } finally { await endAll([reader, other, pub]); }
});

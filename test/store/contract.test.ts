// The Store contract, run against every implementation: whatever the broker core relies on
// must hold in memory mode and on disk alike.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createStore, StoreError, type Persistence, type Store } from '../../src/shared/store/index.ts';
import { tmpDir, removeDir } from './fixtures/tmp.ts';
import { allBytes, entry, message, session } from './fixtures/records.ts';

const MODES: Persistence[] = ['memory', 'durable', 'fast'];

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const mode of MODES) {
  describe(`Store contract (${mode})`, () => {
    let dir = '';
    let store: Store;

    beforeEach(async () => {
      dir = tmpDir(mode);
      store = createStore({ persistence: mode, dataDir: dir });
      await store.open();
    });

    afterEach(async () => {
      await store.close();
      removeDir(dir);
    });

    it('reports its persistence mode', () => {
      assert.equal(store.persistence, mode);
    });

    describe('retained', () => {
      it('round-trips binary payloads, properties and flags', async () => {
        const m = message({ topic: 'a/b', qos: 2, retain: true, expiresAt: Date.now() + 3_600_000.5 });
        await store.putRetained('a/b', m);
        assert.deepEqual([...store.loadRetained()], [m]);
      });

      it('keeps an empty payload, and tells null properties from empty ones', async () => {
        const empty = message({ topic: 'e/1', payload: Buffer.alloc(0), properties: null, qos: 0 });
        const emptyProps = message({ topic: 'e/2', properties: Buffer.alloc(0) });
        await Promise.all([store.putRetained('e/1', empty), store.putRetained('e/2', emptyProps)]);
        const got = new Map([...store.loadRetained()].map((m) => [m.topic, m]));
        assert.deepEqual(got.get('e/1'), empty);
        assert.equal(got.get('e/1')!.payload.length, 0);
        assert.equal(got.get('e/1')!.properties, null);
        assert.deepEqual(got.get('e/2')!.properties, Buffer.alloc(0));
      });

      it('round-trips a 1 MiB payload', async () => {
        const big = message({ topic: 'big', payload: randomBytes(1 << 20) });
        await store.putRetained('big', big);
        const [got] = [...store.loadRetained()];
        assert.ok(got);
        assert.equal(got.payload.length, 1 << 20);
        assert.ok(got.payload.equals(big.payload));
      });

      it('replaces per topic and clears with null', async () => {
        await store.putRetained('t', message({ topic: 't', payload: Buffer.from('one') }));
        await store.putRetained('t', message({ topic: 't', payload: Buffer.from('two') }));
        await store.putRetained('u', message({ topic: 'u', payload: Buffer.from('u') }));
        assert.deepEqual([...store.loadRetained()].map((m) => m.payload.toString()).sort(), ['two', 'u']);
        await store.putRetained('t', null);
        assert.deepEqual([...store.loadRetained()].map((m) => m.topic), ['u']);
        await store.putRetained('never-there', null);
        assert.equal(store.stats().retained, 1);
      });

      it('skips expired messages and deletes them', async () => {
        const now = Date.now();
        await Promise.all([
          store.putRetained('x/expired', message({ topic: 'x/expired', expiresAt: now - 1 })),
          store.putRetained('x/later', message({ topic: 'x/later', expiresAt: now + 60_000 })),
          store.putRetained('x/never', message({ topic: 'x/never', expiresAt: 0 })),
        ]);
        assert.equal(store.stats().retained, 3);
        assert.deepEqual([...store.loadRetained()].map((m) => m.topic).sort(), ['x/later', 'x/never']);
        await eventually(() => store.stats().retained === 2, 'the expired message to be deleted');
      });

      it('does not delete a fresh message retained on an expired topic while loading', async () => {
        await store.putRetained('a/old', message({ topic: 'a/old', expiresAt: Date.now() - 1 }));
        await store.putRetained('b/live', message({ topic: 'b/live' }));
        const fresh = message({ topic: 'a/old', payload: Buffer.from('fresh') });
        let put: Promise<void> | null = null;
        for (const m of store.loadRetained()) {
          assert.equal(m.topic, 'b/live');
          put ??= store.putRetained('a/old', fresh);
        }
        await put;
        await new Promise((r) => setTimeout(r, 50));
        const got = [...store.loadRetained()].find((m) => m.topic === 'a/old');
        assert.deepEqual(got, fresh);
      });

      it('keeps topics with any characters and any length apart', async () => {
        const topics = ['', 'a', 'a/', 'ab', 'a\u0001', 'é/ü/€/😀', 'x'.repeat(600), 'x'.repeat(601), 'y'.repeat(65_535)];
        await Promise.all(topics.map((t, i) => store.putRetained(t, message({ topic: t, payload: Buffer.from(String(i)) }))));
        const got = new Map([...store.loadRetained()].map((m) => [m.topic, m.payload.toString()]));
        assert.equal(got.size, topics.length);
        topics.forEach((t, i) => assert.equal(got.get(t), String(i), `topic of length ${t.length}`));
        await store.putRetained('x'.repeat(601), null);
        assert.equal([...store.loadRetained()].length, topics.length - 1);
      });
    });

    describe('sessions', () => {
      it('round-trips every field', async () => {
        const s = session('client-1');
        await store.putSession(s);
        assert.deepEqual(store.getSession('client-1'), s);
        assert.equal(store.getSession('nobody'), undefined);
      });

      it('round-trips a session without will or subscriptions, and overwrites', async () => {
        const bare = session('c', { protocolVersion: 4, subscriptions: [], will: null, expiryInterval: 0, disconnectedAt: 0, nextPacketId: 1 });
        await store.putSession(session('c'));
        await store.putSession(bare);
        assert.deepEqual(store.getSession('c'), bare);
        const v3 = session('d', { protocolVersion: 3, will: { ...session('d').will!, properties: null, payload: Buffer.alloc(0) } });
        await store.putSession(v3);
        assert.deepEqual(store.getSession('d'), v3);
      });

      it('lists all sessions', async () => {
        const ids = ['a', 'b', 'ä', 'z'.repeat(2000)];
        await Promise.all(ids.map((id) => store.putSession(session(id))));
        assert.deepEqual([...store.listSessions()].map((s) => s.clientId).sort(), [...ids].sort());
        assert.equal(store.stats().sessions, ids.length);
      });

      it('hands out copies', async () => {
        await store.putSession(session('c'));
        const s = store.getSession('c')!;
        s.subscriptions.pop();
        s.subscriptions[0]!.qos = 0;
        s.will!.topic = 'changed';
        assert.deepEqual(store.getSession('c'), session('c'));
      });

      it('keeps long client ids that share a prefix apart', async () => {
        const a = 'p'.repeat(5000) + 'a';
        const b = 'p'.repeat(5000) + 'b';
        await Promise.all([store.putSession(session(a)), store.putSession(session(b)), store.putOutbound(a, 1, entry(1)), store.putInboundQos2(b, 9)]);
        assert.equal(store.getSession(a)!.clientId, a);
        assert.equal(store.getSession(b)!.clientId, b);
        assert.equal(store.loadOutbound(a).length, 1);
        assert.equal(store.loadOutbound(b).length, 0);
        assert.deepEqual(store.loadInboundQos2(b), [9]);
        assert.deepEqual(store.loadInboundQos2(a), []);
      });
    });

    describe('outbound', () => {
      it('loads in ascending seq, including seq beyond 2^32', async () => {
        const seqs = [5, 1, 2 ** 33, 3, 2 ** 32, Number.MAX_SAFE_INTEGER, 0, 2 ** 32 - 1];
        await Promise.all(seqs.map((seq) => store.putOutbound('c', seq, entry(seq))));
        const got = store.loadOutbound('c');
        assert.deepEqual(got.map(([seq]) => seq), [...seqs].sort((x, y) => x - y));
        for (const [seq, e] of got) assert.deepEqual(e, entry(seq));
      });

      it('keeps each session to its own queue', async () => {
        const ids = ['a', 'ab', 'a\u0001', 'a\u001e', 'a\u0000', '', 'b'];
        await Promise.all(ids.flatMap((id, i) => [store.putOutbound(id, 1, entry(i)), store.putOutbound(id, 2, entry(i + 100))]));
        for (const [i, id] of ids.entries()) {
          assert.deepEqual(store.loadOutbound(id), [[1, entry(i)], [2, entry(i + 100)]], `client ${JSON.stringify(id)}`);
        }
        assert.deepEqual(store.loadOutbound('nobody'), []);
      });

      it('rewrites state in place and deletes', async () => {
        await store.putOutbound('c', 1, entry(1));
        await store.putOutbound('c', 2, entry(2));
        await store.putOutbound('c', 1, entry(1, { state: 'sent' }));
        await store.putOutbound('c', 2, entry(2, { state: 'pubrel', packetId: 65535 }));
        assert.deepEqual(store.loadOutbound('c'), [[1, entry(1, { state: 'sent' })], [2, entry(2, { state: 'pubrel', packetId: 65535 })]]);
        await store.deleteOutbound('c', 1);
        await store.deleteOutbound('c', 99);
        assert.deepEqual(store.loadOutbound('c').map(([seq]) => seq), [2]);
      });

      it('resolves 1,000 concurrent puts, all readable', async () => {
        const puts: Promise<void>[] = [];
        for (let i = 0; i < 1000; i++) puts.push(store.putOutbound('many', i, entry(i)));
        await Promise.all(puts);
        const got = store.loadOutbound('many');
        assert.equal(got.length, 1000);
        got.forEach(([seq, e], i) => {
          assert.equal(seq, i);
          assert.equal(e.msg.payload.toString(), `message ${i}`);
        });
      });
    });

    describe('inbound QoS 2', () => {
      it('stores, deletes and lists packet ids in order, per client', async () => {
        await Promise.all([65535, 1, 300].map((id) => store.putInboundQos2('c', id)));
        await store.putInboundQos2('c', 300);
        await store.putInboundQos2('other', 7);
        assert.deepEqual(store.loadInboundQos2('c'), [1, 300, 65535]);
        await store.deleteInboundQos2('c', 300);
        await store.deleteInboundQos2('c', 4);
        assert.deepEqual(store.loadInboundQos2('c'), [1, 65535]);
        assert.deepEqual(store.loadInboundQos2('other'), [7]);
        assert.deepEqual(store.loadInboundQos2('nobody'), []);
      });
    });

    describe('deleteSession', () => {
      it('cascades to the outbound queue and inbound ids, and only for that client', async () => {
        for (const id of ['gone', 'kept', 'gone2']) {
          await store.putSession(session(id));
          await Promise.all([1, 2, 3].map((seq) => store.putOutbound(id, seq, entry(seq))));
          await store.putInboundQos2(id, 42);
        }
        await store.deleteSession('gone');
        assert.equal(store.getSession('gone'), undefined);
        assert.deepEqual(store.loadOutbound('gone'), []);
        assert.deepEqual(store.loadInboundQos2('gone'), []);
        assert.ok(store.getSession('kept'));
        assert.equal(store.loadOutbound('kept').length, 3);
        assert.deepEqual(store.loadInboundQos2('kept'), [42]);
        assert.equal(store.loadOutbound('gone2').length, 3);
        assert.equal(store.stats().sessions, 2);
      });

      it('cascades even when no session record exists', async () => {
        await store.putOutbound('orphan', 1, entry(1));
        await store.putInboundQos2('orphan', 1);
        await store.deleteSession('orphan');
        assert.deepEqual(store.loadOutbound('orphan'), []);
        assert.deepEqual(store.loadInboundQos2('orphan'), []);
      });

      it('applies writes of one turn in call order around it', async () => {
        // A clean-start CONNECT: drop the old session and start a new one in the same turn.
        const writes = [
          store.putOutbound('c', 1, entry(1)),
          store.putInboundQos2('c', 5),
          store.deleteSession('c'),
          store.putSession(session('c', { nextPacketId: 1 })),
          store.putOutbound('c', 2, entry(2)),
        ];
        await Promise.all(writes);
        assert.deepEqual(store.getSession('c'), session('c', { nextPacketId: 1 }));
        assert.deepEqual(store.loadOutbound('c'), [[2, entry(2)]]);
        assert.deepEqual(store.loadInboundQos2('c'), []);
      });
    });

    it('counts retained messages, sessions and bytes', async () => {
      assert.deepEqual({ ...store.stats(), bytes: 0 }, { retained: 0, sessions: 0, bytes: 0 });
      await store.putRetained('t', message({ topic: 't', payload: randomBytes(10_000) }));
      await store.putSession(session('s'));
      await store.putOutbound('s', 1, entry(1));
      const st = store.stats();
      assert.equal(st.retained, 1);
      assert.equal(st.sessions, 1);
      assert.ok(st.bytes >= 10_000, `bytes ${st.bytes}`);
    });

    it('refuses use after close', async () => {
      await store.close();
      await assert.rejects(store.putSession(session('c')), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      await assert.rejects(store.putOutbound('c', 1, entry(1)), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      assert.throws(() => store.getSession('c'), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      assert.throws(() => store.loadOutbound('c'), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      await store.open();
    });
  });
}

// The binary records: exact round trips, and damage detected rather than misread.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CODEC_VERSION, decodeMessage, decodeOutbound, decodeSession, encodeMessage, encodeOutbound, encodeSession,
} from '../../src/shared/store/codec.ts';
import { StoreError } from '../../src/shared/store/errors.ts';
import { allBytes, entry, message, session } from './fixtures/records.ts';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('store codec', () => {
  it('lays out a message header as documented', () => {
    const rec = encodeMessage(message({ topic: 'ab', qos: 2, retain: true, expiresAt: 1.5, payload: Buffer.from('xyz'), properties: null }));
    assert.equal(rec[0], CODEC_VERSION);
    assert.equal(rec[1], 1);
    assert.equal(rec[2], 2 | 0x04);
    assert.equal(rec.readDoubleLE(8), 1.5);
    assert.equal(rec.readUInt32LE(16), 2);
    assert.equal(rec.toString('utf8', 20, 22), 'ab');
    assert.equal(rec.readUInt32LE(22), 3);
    assert.equal(rec.length, 16 + 4 + 2 + 4 + 3);
  });

  it('round-trips messages of every qos and flag combination', () => {
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        for (const properties of [null, Buffer.alloc(0), allBytes(70)]) {
          const m = message({ qos, retain, properties, topic: 'ü/€/😀', expiresAt: Number.MAX_SAFE_INTEGER });
          assert.deepEqual(decodeMessage(encodeMessage(m)), m);
        }
      }
    }
  });

  it('round-trips outbound entries in every state', () => {
    for (const state of ['queued', 'sent', 'pubrel'] as const) {
      const e = entry(3, { state, packetId: 65535 });
      assert.deepEqual(decodeOutbound(encodeOutbound(e)), e);
    }
  });

  it('round-trips sessions, and decodes from a plain Uint8Array', () => {
    const s = session('ç-1');
    const rec = encodeSession(s);
    assert.deepEqual(decodeSession(rec), s);
    assert.deepEqual(decodeSession(new Uint8Array(rec)), s);
  });

  it('refuses a record of another kind', () => {
    assert.throws(() => decodeOutbound(encodeMessage(message())), isCode('STORE_CORRUPT'));
    assert.throws(() => decodeSession(encodeOutbound(entry(1))), isCode('STORE_CORRUPT'));
  });

  it('refuses a record from a newer codec as a version problem', () => {
    const rec = encodeMessage(message());
    rec[0] = CODEC_VERSION + 1;
    assert.throws(() => decodeMessage(rec), isCode('STORE_VERSION'));
  });

  it('refuses every truncation and trailing bytes', () => {
    for (const rec of [encodeMessage(message()), encodeOutbound(entry(1)), encodeSession(session('c'))]) {
      const decode = rec[1] === 1 ? decodeMessage : rec[1] === 2 ? decodeOutbound : decodeSession;
      for (let n = 0; n < rec.length; n++) assert.throws(() => decode(rec.subarray(0, n)), isCode('STORE_CORRUPT'), `cut at ${n}`);
      assert.throws(() => decode(Buffer.concat([rec, Buffer.from([0])])), isCode('STORE_CORRUPT'));
    }
  });

  it('refuses impossible field values', () => {
    const m = encodeMessage(message());
    m[2] = 3;
    assert.throws(() => decodeMessage(m), isCode('STORE_CORRUPT'));
    const o = encodeOutbound(entry(1));
    o[3] = 9;
    assert.throws(() => decodeOutbound(o), isCode('STORE_CORRUPT'));
    const s = encodeSession(session('c'));
    s[2] = 6;
    assert.throws(() => decodeSession(s), isCode('STORE_CORRUPT'));
    const huge = encodeSession(session('c', { subscriptions: [] }));
    huge.writeUInt32LE(0xffffffff, 20 + 4 + 1);
    assert.throws(() => decodeSession(huge), isCode('STORE_CORRUPT'));
  });

  it('throws on values that cannot be stored, instead of storing them wrong', () => {
    assert.throws(() => encodeOutbound(entry(1, { packetId: 70_000 })), RangeError);
    assert.throws(() => encodeSession(session('c', { expiryInterval: -1 })), RangeError);
  });
});

// Plain TCP reads past Node's stream wrapper (src/worker/net/socket-reader.ts): the handle's own
// `onread` delivers bytes, and end of stream, resets, pause/resume and socket timeouts keep
// net.Socket's behaviour. Real sockets over loopback, both ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { setReading, userBufferSocket } from '../../src/worker/net/socket-reader.ts';

interface Pair { server: Socket; client: Socket; got: Buffer[]; close(): Promise<void> }

/** A connected pair whose server side reads through userBufferSocket into `got`. */
async function pair(allowHalfOpen: boolean, handleOnly = false): Promise<Pair> {
  const got: Buffer[] = [];
  const listener = net.createServer({ pauseOnConnect: true, allowHalfOpen });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const [raw] = await once(listener, 'connection') as [Socket];
  const server = userBufferSocket(raw, function (n, buf) { got.push(Buffer.from(buf.subarray(0, n))); });
  assert.ok(server !== null, 'a plain, unread socket reads into the callback');
  server.on('error', () => {});
  if (handleOnly) setReading(server, true); else server.resume();
  return {
    server, client, got,
    // The listener's count still holds the raw socket (dropped unclosed): close() would wait for it.
    async close() { client.destroy(); server.destroy(); listener.close(); listener.unref(); },
  };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) { if (Date.now() > end) assert.fail(`timed out waiting for ${what}`); await sleep(5); }
}

test('tcp reads: bytes arrive in order; pause stops them and resume delivers what waited', async () => {
  const p = await pair(false);
  p.client.write('one');
  await until('first bytes', () => Buffer.concat(p.got).toString() === 'one');
  p.server.pause();
  p.client.write('two');
  await sleep(100);
  assert.equal(Buffer.concat(p.got).toString(), 'one', 'nothing is read while paused');
  p.server.resume();
  await until('bytes sent while paused', () => Buffer.concat(p.got).toString() === 'onetwo');
  assert.equal(p.server.bytesRead, 6);
  await p.close();
});

test('tcp reads: a half-closed peer ends the stream and can still be written to', async () => {
  const p = await pair(true);
  const ended = once(p.server, 'end');
  p.client.end('last');
  await ended;
  assert.equal(Buffer.concat(p.got).toString(), 'last', 'the bytes before FIN are read first');
  assert.equal(p.server.destroyed, false, 'allowHalfOpen: the socket stays open for writing');
  const back: Buffer[] = [];
  p.client.on('data', (b: Buffer) => back.push(b));
  const clientEnded = once(p.client, 'end');
  p.server.end('reply');
  await clientEnded;
  assert.equal(Buffer.concat(back).toString(), 'reply');
  await p.close();
});

test('tcp reads: without half-open, end of stream is followed by close', async () => {
  const p = await pair(false);
  const events: string[] = [];
  p.server.on('end', () => events.push('end'));
  const closed = once(p.server, 'close');
  p.client.end();
  await closed;
  assert.deepEqual(events, ['end']);
  await p.close();
});

test('tcp reads: a reset connection errors with ECONNRESET, then closes', async () => {
  const p = await pair(false);
  p.client.write('x');
  await until('first byte', () => p.got.length > 0);
  const errored = once(p.server, 'error');
  const closed = new Promise((resolve) => p.server.once('close', resolve)); // once() would reject on the 'error'
  p.client.resetAndDestroy();
  const [err] = await errored as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  await closed;
  await p.close();
});

test('tcp reads: a socket timeout still sees reads as activity and fires when idle', async () => {
  const p = await pair(false);
  let timeouts = 0;
  p.server.setTimeout(300, () => { timeouts++; });
  for (let i = 0; i < 6; i++) { p.client.write('.'); await sleep(100); } // reads within every 300 ms window
  assert.equal(timeouts, 0, 'reads refresh the timeout');
  await until('the idle timeout', () => timeouts === 1, 2000);
  assert.equal(Buffer.concat(p.got).toString(), '......');
  await p.close();
});

// setReading, as Connection uses it: the handle is started and stopped, the Readable side never
// flows (no nextTick or 'resume' event per call), and the stream still ends and closes.
test('tcp reads: setReading starts and stops the handle only; bytes, pauses and the end of stream as with resume/pause', async () => {
  const p = await pair(false, true);
  let resumes = 0;
  p.server.on('resume', () => resumes++);
  p.client.write('one');
  await until('first bytes', () => Buffer.concat(p.got).toString() === 'one');
  setReading(p.server, false);
  p.client.write('two');
  await sleep(100);
  assert.equal(Buffer.concat(p.got).toString(), 'one', 'nothing is read while stopped');
  setReading(p.server, true);
  setReading(p.server, true); // twice: no second readStart
  await until('bytes sent while stopped', () => Buffer.concat(p.got).toString() === 'onetwo');
  assert.notEqual(p.server.readableFlowing, true, 'the Readable side was never put into flowing mode');
  assert.equal(resumes, 0, 'no resume event (no nextTick per call)');
  const closed = once(p.server, 'close');
  p.client.end();
  await closed;
  assert.equal(p.server.destroyed, true, 'end of stream, not flowing: the socket still ends and closes');
  await p.close();
});

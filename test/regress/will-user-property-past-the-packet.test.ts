// Regression, found by the fuzzer (seed 20261201, iteration 91651, 4 shards): a v5 CONNECT
// whose Will Properties hold a User Property with a key length (0xfe01) that runs past the
// will properties and the packet. mqtt-packet accepts it (userProperties {"null": null}),
// and the broker's own raw read of the will properties (rawWillProps, for their wire order)
// then reads past the packet: inside the read slab it takes other bytes as the property and
// accepts the CONNECT (CONNACK 0x00, today); in a buffer of its own (a packet split across
// reads is copied into one of its exact size) or near the slab's end it throws `RangeError
// ... offset is out of range`, logged at error level as "handler failed" (how the fuzzer saw
// it; seed 20261202 found it again at inputs 93400–93599). A property that overruns its section is a Malformed Packet: CONNACK 0x81 (or a
// close), no error-level log line, and the broker goes on serving everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBroker } from '../helpers/matrix.ts';
import { isErrorLine } from '../../fuzz/checker.ts';
import { RawClient, fromHex, codeOf } from '../helpers/raw.ts';
import { roundTrip, sleep } from '../helpers/clients.ts';

// The fuzzer's input, as saved in its replay file: the CONNECT, then the start of a PUBLISH.
const CONNECT = fromHex(
  '107200044d5154540516003c00000d73686f616c2d76352d77696c6c3918000000050101020000003c0300106170706c69636174696f6e2f6a736f6e08000a7265702c792f6865726509000301020326fe016b000176000777696c6c2f763500137b227374617465223a226f66666c696e65227d',
);
const AFTER = fromHex('3080808000000161027f');

/** Error-level (or shard death) lines of the broker's stderr, judged as the fuzzer judges them. */
const errorLines = (stderr: string): string[] => stderr.split('\n').filter(isErrorLine);

for (const shards of [1, 4]) {
  const h = useBroker({ shards, extraArgs: ['--log-level', 'warn'] });
  const named = (how: string): string => `a will user property running past the packet, ${how}: refused as malformed, no error logged (${shards} shard${shards > 1 ? 's' : ''})`;

  for (const split of [false, true]) {
    test(named(split ? 'CONNECT split over two writes' : 'in one write'), async (t) => {
      const c = await RawClient.open(h.port, { version: 5 });
      if (split) {
        c.send(CONNECT.subarray(0, 40));
        await sleep(50);
        c.send(Buffer.concat([CONNECT.subarray(40), AFTER]));
      } else {
        c.send(Buffer.concat([CONNECT, AFTER]));
      }
      await c.expectClose(5000);
      t.diagnostic(`answers: ${c.log.map((f) => `${f.cmd}${codeOf(f) !== undefined ? ` 0x${codeOf(f)!.toString(16)}` : ''}`).join(', ') || 'none (closed)'}`);
      const connack = c.log.find((f) => f.cmd === 'connack');
      // Checked first: a shard that logged has also answered (0x80), which would hide the log.
      assert.deepEqual(errorLines(h.broker.stderr()), []);
      if (connack !== undefined) assert.equal(codeOf(connack), 0x81, 'CONNACK Malformed Packet');
      await roundTrip(h.url, 5);
    });
  }
}

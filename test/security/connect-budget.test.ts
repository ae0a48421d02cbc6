// The shard's budget for bursts of new connections (src/worker/protocol/handlers/connect-budget.ts):
// so many CONNECTs (and new sockets) per event-loop turn, the rest in arrival order in later
// turns. Unit: the line's order and the share per turn. Broker: a burst of raw CONNECTs, each
// with SUBSCRIBE and PUBLISH pipelined behind it in the same write, is answered in full and in
// order (the held CONNECT and the packets after it are dispatched again, in that order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { isMosquitto, startBroker } from '../helpers/broker.ts';
import { INTAKE_PER_TURN, Turn, TurnBudget } from '../../src/worker/protocol/handlers/connect-budget.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('connect budget: so many per turn go ahead, the rest run in arrival order, that many per later turn, ahead of newcomers', async () => {
  const ran: string[] = [];
  const perTurn: number[] = [];
  let inTurn = 0;
  const b = new TurnBudget<string>(3, (x) => { ran.push(x); inTurn++; });
  const now: string[] = [];
  for (const x of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) if (b.admit(x)) now.push(x);
  assert.deepEqual(now, ['a', 'b', 'c'], 'the first three this turn');
  assert.equal(b.waitingCount, 4);
  await turn();
  perTurn.push(inTurn); inTurn = 0;
  assert.deepEqual(ran, ['d', 'e', 'f']);
  // a newcomer while some still wait joins the line behind them
  assert.equal(b.admit('h'), false);
  await turn();
  perTurn.push(inTurn); inTurn = 0;
  assert.deepEqual(ran, ['d', 'e', 'f', 'g', 'h']);
  assert.equal(b.waitingCount, 0);
  assert.deepEqual(perTurn, [3, 2]);
  // an empty line and a fresh turn: go ahead at once again
  await turn();
  assert.equal(b.admit('i'), true);
});

// 1 shard: every claim is answered before claim() returns (the socket is never paused); 2 shards:
// half the client ids live on the other shard, whose answer comes later (the socket pauses).
for (const shards of [1, 2]) test(`connect budget: a burst of CONNECTs with SUBSCRIBE and PUBLISH pipelined behind each is answered in full and in order, ${shards} shard(s)`, { skip: isMosquitto ? 'Shoal only' : false, timeout: 60_000 }, async () => {
  const b = await startBroker({ shards, extraArgs: ['--log-level', 'warn'] });
  const N = INTAKE_PER_TURN * 12;
  try {
    const results = await Promise.all(Array.from({ length: N }, (_, i) => new Promise<string[]>((resolve, reject) => {
      const cmds: string[] = [];
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        cmds.push(p.cmd);
        if (cmds.includes('publish') && cmds.includes('suback')) { s.destroy(); resolve(cmds); }
      });
      parser.on('error', reject);
      const s = net.connect({ host: '127.0.0.1', port: b.port }, () => {
        // one write: CONNECT, SUBSCRIBE, PUBLISH to the client's own topic (it gets it back)
        s.write(Buffer.concat([
          mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `budget-${i}`, keepalive: 30 } as mqttPacket.IConnectPacket),
          mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `budget/${i}`, qos: 0 }] } as mqttPacket.ISubscribePacket),
          mqttPacket.generate({ cmd: 'publish', topic: `budget/${i}`, payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket),
        ]));
      });
      s.on('data', (d: Buffer) => parser.parse(d));
      s.on('error', reject);
      s.setTimeout(30_000, () => reject(new Error(`client ${i}: timed out after ${cmds.join(',')}`)));
    })));
    // CONNACK first; with 2 shards the message may come before the SUBACK (the other shard
    // acknowledges the route first), which MQTT allows (3.8.4: the server may send matching
    // PUBLISHes before SUBACK; main does so too), so only CONNACK's place is fixed there.
    for (const [i, cmds] of results.entries()) {
      assert.deepEqual(shards === 1 ? cmds : [cmds[0], ...cmds.slice(1).sort()], shards === 1 ? ['connack', 'suback', 'publish'] : ['connack', 'publish', 'suback'], `client ${i}`);
    }
  } finally {
    assert.equal(await b.stop(), 0);
  }
});

test('connect budget: lines sharing one turn\'s allowance are served in the order made, never more than it per turn', async () => {
  const turnAllowance = new Turn(3);
  const ran: string[] = [];
  const first = new TurnBudget<string>(turnAllowance, (x) => ran.push(x));
  const second = new TurnBudget<string>(turnAllowance, (x) => ran.push(x));
  const now: string[] = [];
  for (const x of ['s1', 's2']) if (second.admit(x)) now.push(x);
  for (const x of ['f1', 'f2', 'f3']) if (first.admit(x)) now.push(x);
  assert.deepEqual(now, ['s1', 's2', 'f1'], 'three go ahead this turn, whichever line');
  assert.equal(second.admit('s3'), false);
  await turn();
  assert.deepEqual(ran, ['f2', 'f3', 's3'], 'the first line first, then the second');
  for (const x of ['s4', 's5', 's6', 's7']) second.admit(x);
  assert.equal(first.admit('f4'), false);
  await turn();
  assert.deepEqual(ran.slice(3), ['f4', 's4', 's5']);
  await turn();
  assert.deepEqual(ran.slice(6), ['s6', 's7']);
  assert.equal(first.waitingCount + second.waitingCount, 0);
});

test('connect budget: an item of a prepaying line pays for what it brings, which then goes ahead in the next phase without waiting', async () => {
  const allowance = new Turn(4);
  const ran: string[] = [];
  const connects = new TurnBudget<string>(allowance, (x) => ran.push(x), { usesCredit: true });
  const sockets = new TurnBudget<string>(allowance, (x) => ran.push(x), { cost: 2, prepays: true });
  const now = ['s1', 's2', 's3', 's4', 's5', 's6'].filter((x) => sockets.admit(x));
  assert.deepEqual(now, ['s1', 's2'], 'two sockets of two steps each in a turn of four');
  // their CONNECTs arrive: paid for, they go ahead although the turn is spent
  assert.equal(connects.admit('c1'), true);
  assert.equal(connects.admit('c2'), true);
  assert.equal(connects.admit('cx'), false, 'no credit left and the turn spent: it waits');
  await turn();
  assert.deepEqual(ran, ['cx', 's3'], 'the waiting CONNECT first (1 step), then a socket (2) within 4');
  // credit is counted, not named: a CONNECT goes ahead on s3's step, the next on the turn's last step, then one waits
  assert.equal(connects.admit('c3'), true);
  assert.equal(connects.admit('cy'), true);
  assert.equal(connects.admit('cq'), false);
  await turn();
  assert.deepEqual(ran.slice(2), ['cq', 's4']);
  await turn();
  assert.deepEqual(ran.slice(4), ['s5', 's6']);
  // the turn is spent, but s4, s5 and s6 paid for three CONNECTs
  assert.equal(connects.admit('c4'), true);
  assert.equal(connects.admit('c5'), true);
  assert.equal(connects.admit('c6'), true);
  assert.equal(connects.admit('c7'), false);
  await turn();
  assert.deepEqual(ran.slice(6), ['c7']);
  assert.equal(connects.waitingCount + sockets.waitingCount, 0);
});

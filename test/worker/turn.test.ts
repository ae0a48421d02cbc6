// The end of a turn (src/worker/net/turn.ts): what a read callback or a doorbell wake asks to
// send goes out when it returns, synchronously (no nextTick per message in a round trip); outside
// one, one nextTick runs everything asked for; a task that throws does not strand the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atTurnEnd, enterTurn, leaveTurn } from '../../src/worker/net/turn.ts';

test('inside a turn, tasks run when the last (outermost) turn leaves, in the order asked, before any nextTick', () => {
  const ran: string[] = [];
  process.nextTick(() => ran.push('tick'));
  enterTurn();
  atTurnEnd(() => ran.push('a'));
  enterTurn(); // a drain inside a read callback
  atTurnEnd(() => ran.push('b'));
  leaveTurn();
  assert.deepEqual(ran, [], 'the inner turn leaving runs nothing');
  leaveTurn();
  assert.deepEqual(ran, ['a', 'b']);
});

test('a task may ask for another: it runs in the same loop', () => {
  const ran: string[] = [];
  enterTurn();
  atTurnEnd(() => { ran.push('flush'); atTurnEnd(() => ran.push('joined')); });
  leaveTurn();
  assert.deepEqual(ran, ['flush', 'joined']);
});

test('outside a turn, one nextTick runs every task asked for', async () => {
  const ran: string[] = [];
  atTurnEnd(() => ran.push('x'));
  atTurnEnd(() => ran.push('y'));
  // A turn that begins and ends meanwhile leaves them to the pending tick.
  enterTurn(); leaveTurn();
  assert.deepEqual(ran, []);
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual(ran, ['x', 'y']);
});

test('a task that throws: the error surfaces and the tasks after it still run', async () => {
  const ran: string[] = [];
  enterTurn();
  atTurnEnd(() => { throw new Error('boom'); });
  atTurnEnd(() => ran.push('after'));
  assert.throws(() => leaveTurn(), /boom/);
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(ran, ['after']);
  // And turns work as before afterwards.
  enterTurn();
  atTurnEnd(() => ran.push('next'));
  leaveTurn();
  assert.deepEqual(ran, ['after', 'next']);
});

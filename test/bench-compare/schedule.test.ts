import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule } from '../../bench/compare/schedule.ts';

const orders = (brokers: string[], rounds: number): string[][] => {
  const byRound: string[][] = [];
  for (const s of schedule(brokers, rounds)) (byRound[s.round - 1] ??= [])[s.position - 1] = s.broker;
  return byRound;
};

test('each round runs every broker once, the order rotated by one per round', () => {
  assert.deepEqual(orders(['shoal', 'mosquitto', 'aedes'], 4), [
    ['shoal', 'mosquitto', 'aedes'],
    ['mosquitto', 'aedes', 'shoal'],
    ['aedes', 'shoal', 'mosquitto'],
    ['shoal', 'mosquitto', 'aedes'],
  ]);
});

test('over as many rounds as brokers, each broker takes each position once', () => {
  const slots = schedule(['a', 'b', 'c'], 3);
  for (const broker of ['a', 'b', 'c']) {
    assert.deepEqual(slots.filter((s) => s.broker === broker).map((s) => s.position).sort(), [1, 2, 3]);
  }
});

test('slots come in run order with 1-based round and position', () => {
  assert.deepEqual(schedule(['a', 'b'], 2), [
    { round: 1, position: 1, broker: 'a' }, { round: 1, position: 2, broker: 'b' },
    { round: 2, position: 1, broker: 'b' }, { round: 2, position: 2, broker: 'a' },
  ]);
  assert.deepEqual(schedule(['solo'], 2).map((s) => s.broker), ['solo', 'solo']);
});

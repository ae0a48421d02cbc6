// setLongTimeout (src/worker/session/timers.ts): delays beyond setTimeout's 2^31-1 ms limit (session
// expiry, will delay) are chained; clearing must stop the chain at any link, or a cleared expiry
// timer of a session would later end a new live session of the same client id.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { setLongTimeout } from '../../src/worker/session/timers.ts';

const MAX = 0x7fffffff;

test('a long timeout fires once, after the whole delay', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fired = 0;
    setLongTimeout(() => { fired++; }, MAX * 2 + 1000);
    mock.timers.tick(MAX);
    mock.timers.tick(MAX);
    assert.equal(fired, 0);
    mock.timers.tick(999);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
    mock.timers.tick(MAX);
    assert.equal(fired, 1);
  } finally { mock.timers.reset(); }
});

test('clearing a long timeout after its first link fired stops it (regression)', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fired = 0;
    const t = setLongTimeout(() => { fired++; }, MAX + 5000);
    mock.timers.tick(MAX); // the first ~24.8 days pass: the follow-on link is armed
    t.clear();
    mock.timers.tick(10_000);
    assert.equal(fired, 0);
  } finally { mock.timers.reset(); }
});

test('clearing before the first link fires and short delays behave like setTimeout', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let long = 0, short = 0, cleared = 0;
    const a = setLongTimeout(() => { long++; }, MAX + 1);
    a.clear();
    setLongTimeout(() => { short++; }, 10);
    const c = setLongTimeout(() => { cleared++; }, 10);
    c.clear();
    mock.timers.tick(MAX + 10);
    assert.deepEqual([long, short, cleared], [0, 1, 0]);
  } finally { mock.timers.reset(); }
});
